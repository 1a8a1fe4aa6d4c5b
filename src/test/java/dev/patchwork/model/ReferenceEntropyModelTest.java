package dev.patchwork.model;

import com.fasterxml.jackson.databind.JsonNode;
import dev.patchwork.util.Json;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The reference's own entropy LM (reference-tiny, hub layout: {@code config.json} + {@code model.safetensors}) loads as
 * a ByteLm and reproduces the entropies the reference computed for two documents (golden data, fp32). This pins down
 * interleaved RoPE, the sliding window of 48, RMSNorm, SwiGLU sizes and the tensor names.
 */
class ReferenceEntropyModelTest {
    static Path resource(String name) throws Exception {
        return Path.of(ReferenceEntropyModelTest.class.getResource("/reference-tiny/" + name).toURI());
    }

    static float[] entropies(float[] logits, int positions, int vocab) {
        float[] h = new float[positions];
        for (int t = 0; t < positions; t++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int v = 0; v < vocab; v++) max = Math.max(max, logits[t * vocab + v]);
            double z = 0;
            for (int v = 0; v < vocab; v++) z += Math.exp(logits[t * vocab + v] - max);
            double ent = 0;
            for (int v = 0; v < vocab; v++) {
                double logp = logits[t * vocab + v] - max - Math.log(z);
                ent -= Math.exp(logp) * logp;
            }
            h[t] = (float) ent;
        }
        return h;
    }

    @Test
    void reproducesTheReferenceEntropies() throws Exception {
        ByteLm model = ByteLmCheckpoint.load(resource("entropy_model"));
        assertEquals(48, model.config().slidingWindow());
        assertEquals(256, model.config().ffnHidden());
        JsonNode golden = Json.MAPPER.readTree(resource("entropy_golden.json").toFile());
        int checked = 0;
        double worst = 0;
        for (JsonNode doc : golden.get("documents")) {
            int[] ids = Json.MAPPER.convertValue(doc.get("token_ids"), int[].class);
            double[] expected = Json.MAPPER.convertValue(doc.get("entropies"), double[].class);
            float[] logits = model.forward(ids, 1, ids.length);
            float[] h = entropies(logits, ids.length, 260);
            for (int t = 0; t < ids.length; t++) {
                worst = Math.max(worst, Math.abs(h[t] - expected[t]));
                assertEquals(expected[t], h[t], 1e-4, "position " + t + " of " + doc.get("case").asText());
                checked++;
            }
        }
        assertEquals(249 + 701, checked);
        System.out.printf("reference entropies: max |diff| = %.2e over %d positions%n", worst, checked);
    }

    @Test
    void reproducesTheReferenceLogits() throws Exception {
        ByteLm model = ByteLmCheckpoint.load(resource("entropy_model"));
        JsonNode golden = Json.MAPPER.readTree(resource("entropy_golden.json").toFile());
        int[] ids = Json.MAPPER.convertValue(golden.get("documents").get(0).get("token_ids"), int[].class);
        float[] logits = model.forward(ids, 1, ids.length);
        JsonNode first2 = golden.get("entropy_model_logits_first2");
        for (int t = 0; t < 2; t++)
            for (int v = 0; v < 260; v++)
                assertEquals(first2.get(t).get(v).asDouble(), logits[t * 260 + v], 1e-4, "position " + t + " id " + v);
    }

    @Test
    void incrementalDecodingMatchesOnTheReferenceModel() throws Exception {
        ByteLm model = ByteLmCheckpoint.load(resource("entropy_model"));
        JsonNode golden = Json.MAPPER.readTree(resource("entropy_golden.json").toFile());
        int[] ids = Json.MAPPER.convertValue(golden.get("documents").get(0).get("token_ids"), int[].class);
        float[] full = model.forward(ids, 1, ids.length).clone();
        ByteLm.Session s = model.newSession(ids.length);
        for (int t = 0; t < ids.length; t++) { // past the window of 48: the cache must honour it
            float[] step = s.step(ids[t]);
            for (int v = 0; v < 260; v++) assertEquals(full[t * 260 + v], step[v], 1e-4, "position " + t);
        }
    }
}

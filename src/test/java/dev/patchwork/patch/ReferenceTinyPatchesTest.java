package dev.patchwork.patch;

import com.fasterxml.jackson.databind.JsonNode;
import dev.patchwork.data.ByteTokens;
import dev.patchwork.util.Json;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.*;

/**
 * End to end against the reference: our EntropyModel on the reference's tiny entropy LM, then the global-threshold
 * patcher, gives exactly the patches the reference computed for two documents (reference-tiny golden, θ = 3.1328125).
 */
class ReferenceTinyPatchesTest {
    static Path resource(String name) throws Exception {
        return Path.of(ReferenceTinyPatchesTest.class.getResource("/reference-tiny/" + name).toURI());
    }

    @Test
    void trainingAndInferenceConventionsGiveTheGoldenPatches() throws Exception {
        JsonNode golden = Json.MAPPER.readTree(resource("patch_golden.json").toFile());
        double theta = golden.get("threshold").asDouble();
        assertEquals(3.1328125, theta);
        EntropyModel model = EntropyModel.load(resource("entropy_model"));
        Patcher patcher = PatcherConfig.entropy(theta).build();
        int checked = 0;
        for (JsonNode doc : golden.get("documents")) {
            int[] expected = Json.MAPPER.convertValue(doc.get("patch_lengths"), int[].class);
            int[] ids = ByteTokens.encode(doc.get("text").asText(), true, true);
            // training convention: BOS + bytes + EOS, include_next_token=false
            Patches training = patcher.patch(ids, model.entropies(ids), false);
            assertArrayEquals(expected, training.lengths(), doc.get("case").asText());
            // inference convention: the model runs on ids without EOS and the virtual next byte takes its place
            int[] x = Arrays.copyOf(ids, ids.length - 1);
            assertArrayEquals(expected, patcher.patch(x, model.entropies(x), true).lengths(), doc.get("case").asText() + " (inference)");
            checked++;
        }
        assertEquals(2, checked);
    }
}

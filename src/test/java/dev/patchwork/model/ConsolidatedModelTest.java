package dev.patchwork.model;

import com.fasterxml.jackson.databind.JsonNode;
import dev.patchwork.io.Checkpoint;
import dev.patchwork.io.ConsolidatedCheckpoint;
import dev.patchwork.util.Json;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The reference's consolidated checkpoints ({@code params.json} + {@code consolidated.pth}) build the same models as
 * the hub files (bit-identical weights; ReferenceBltTest checks the hub BLT against the golden logits), and the
 * consolidated entropy model computes the reference's golden entropies.
 */
class ConsolidatedModelTest {
    static Path resource(String name) throws Exception {
        return Path.of(ConsolidatedModelTest.class.getResource("/reference-tiny/" + name).toURI());
    }

    static ByteLm entropyModel(ConsolidatedCheckpoint c) {
        ByteLm model = ByteLm.uninitialised(ByteLmConfig.fromJson(c.modelArgs(), c.directory() + "/params.json entropy_model"));
        c.loadInto(model.parameters());
        return model;
    }

    @Test
    void theConsolidatedEntropyModelReproducesTheGoldenEntropies() throws Exception {
        ConsolidatedCheckpoint c = ConsolidatedCheckpoint.read(resource("entropy_model_consolidated"));
        assertTrue(c.isEntropyModel());
        ByteLm model = entropyModel(c);
        ByteLm hub = ByteLmCheckpoint.load(resource("entropy_model"));
        assertEquals(hub.config(), model.config());
        assertEquals(-1, hub.parameters().segment().mismatch(model.parameters().segment()), "the hub model's weights, bit for bit");
        JsonNode golden = Json.MAPPER.readTree(resource("entropy_golden.json").toFile());
        int checked = 0;
        for (JsonNode doc : golden.get("documents")) {
            int[] ids = Json.MAPPER.convertValue(doc.get("token_ids"), int[].class);
            double[] expected = Json.MAPPER.convertValue(doc.get("entropies"), double[].class);
            float[] h = ReferenceEntropyModelTest.entropies(model.forward(ids, 1, ids.length), ids.length, 260);
            for (int t = 0; t < ids.length; t++, checked++)
                assertEquals(expected[t], h[t], 1e-4, "position " + t + " of " + doc.get("case").asText());
        }
        assertEquals(249 + 701, checked);
    }

    @Test
    void theConsolidatedBltHasTheHubWeights() throws Exception {
        ConsolidatedCheckpoint c = ConsolidatedCheckpoint.read(resource("blt_consolidated"));
        assertFalse(c.isEntropyModel());
        assertEquals(3.1328125, c.patcherArgs().get("threshold").asDouble());
        Blt model = Blt.uninitialised(BltConfig.fromJson(c.modelArgs(), "blt_consolidated/params.json model"));
        c.loadInto(model.parameters());
        Path hubDir = resource("config.json").getParent();
        Blt hub = Blt.uninitialised(BltConfig.read(hubDir.resolve("config.json")));
        Checkpoint.loadModel(hubDir, hub.parameters());
        assertEquals(hub.config(), model.config());
        assertEquals(-1, hub.parameters().segment().mismatch(model.parameters().segment()));
    }
}

package dev.patchwork.model;

import com.fasterxml.jackson.databind.JsonNode;
import dev.patchwork.io.Checkpoint;
import dev.patchwork.io.ConsolidatedCheckpoint;
import dev.patchwork.patch.EntropyModel;
import dev.patchwork.util.Json;
import dev.patchwork.util.PatchworkException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The reference's consolidated checkpoints ({@code params.json} + {@code consolidated.pth}) load through the same
 * entry points as the hub files ({@link ModelDirectory}, {@link ByteLmCheckpoint}, {@link BltCheckpoint},
 * {@link EntropyModel#load}) into the same models: bit-identical weights, and the consolidated entropy model computes
 * the reference's golden entropies. (ReferenceBltTest checks the hub BLT against the golden logits.)
 */
class ConsolidatedModelTest {
    @TempDir
    Path tmp;

    static Path resource(String name) throws Exception {
        return Path.of(ConsolidatedModelTest.class.getResource("/reference-tiny/" + name).toURI());
    }

    @Test
    void theConsolidatedEntropyModelReproducesTheGoldenEntropies() throws Exception {
        Path dir = resource("entropy_model_consolidated");
        assertEquals(ModelDirectory.Kind.BYTE_LM, ModelDirectory.of(dir).kind());
        EntropyModel model = EntropyModel.load(dir);
        ByteLm hub = ByteLmCheckpoint.load(resource("entropy_model"));
        assertEquals(hub.config(), model.model().config());
        assertEquals(-1, hub.parameters().segment().mismatch(model.model().parameters().segment()), "the hub model's weights, bit for bit");
        JsonNode golden = Json.MAPPER.readTree(resource("entropy_golden.json").toFile());
        int checked = 0;
        for (JsonNode doc : golden.get("documents")) {
            int[] ids = Json.MAPPER.convertValue(doc.get("token_ids"), int[].class);
            double[] expected = Json.MAPPER.convertValue(doc.get("entropies"), double[].class);
            float[] h = model.entropies(ids);
            for (int t = 0; t < ids.length; t++, checked++)
                assertEquals(expected[t], h[t], 1e-4, "position " + t + " of " + doc.get("case").asText());
        }
        assertEquals(249 + 701, checked);
    }

    @Test
    void theConsolidatedBltLoadsWithTheHubWeightsAndPatcherSettings() throws Exception {
        Path dir = resource("blt_consolidated");
        ModelDirectory md = ModelDirectory.of(dir);
        assertEquals(ModelDirectory.Kind.BLT, md.kind());
        assertEquals(dir.resolve(ConsolidatedCheckpoint.PARAMS_FILE), md.trainArgs().orElseThrow());
        assertEquals(3.1328125, md.patcherArgs().orElseThrow().get("threshold").asDouble());
        assertEquals(3.1328125, BltCheckpoint.patcherArgs(dir).get("threshold").asDouble());
        Blt model = md.loadBlt();
        Path hubDir = resource("config.json").getParent();
        Blt hub = Blt.uninitialised(BltConfig.read(hubDir.resolve("config.json")));
        Checkpoint.loadModel(hubDir, hub.parameters());
        assertEquals(hub.config(), model.config());
        assertEquals(-1, hub.parameters().segment().mismatch(model.parameters().segment()));
        assertEquals(-1, hub.parameters().segment().mismatch(BltCheckpoint.load(dir).parameters().segment()));
        // the consolidated BLT directory holds no entropy model (the reference points to it from patcher_args)
        var e = assertThrows(PatchworkException.class, md::loadEntropyModel);
        assertTrue(e.getMessage().contains("has no entropy_model/"), e.getMessage());
    }

    /** A hub BLT whose entropy_model/ is in the consolidated layout. */
    @Test
    void anEntropyModelSubdirectoryMayBeConsolidated() throws Exception {
        Path hubDir = resource("config.json").getParent();
        Path blt = Files.createDirectory(tmp.resolve("blt"));
        for (String f : new String[]{"config.json", "model.safetensors"}) Files.copy(hubDir.resolve(f), blt.resolve(f));
        Path lm = Files.createDirectory(blt.resolve(ModelDirectory.ENTROPY_MODEL_DIR));
        for (String f : new String[]{"params.json", "consolidated.pth"}) Files.copy(resource("entropy_model_consolidated").resolve(f), lm.resolve(f));
        ByteLm loaded = ModelDirectory.of(blt).loadEntropyModel();
        assertEquals(-1, ByteLmCheckpoint.load(resource("entropy_model")).parameters().segment().mismatch(loaded.parameters().segment()));
        assertEquals(lm, BltCheckpoint.entropyModel(blt).orElseThrow());
    }

    @Test
    void aConsolidatedBltIsNotAByteLm() throws Exception {
        var e = assertThrows(PatchworkException.class, () -> ByteLmCheckpoint.load(resource("blt_consolidated")));
        assertTrue(e.getMessage().contains("params.json model"), e.getMessage());
    }
}

package dev.patchwork.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** params.json decides which model a consolidated directory holds; incomplete directories are refused by name. */
class ConsolidatedCheckpointTest {
    @TempDir
    Path dir;

    @Test
    void anEntropyModelRunUsesTheEntropyModelArguments() throws Exception {
        ConsolidatedCheckpoint c = ConsolidatedCheckpoint.read(PthReferenceTest.resource("entropy_model_consolidated"));
        assertTrue(c.isEntropyModel());
        assertEquals("entropy_model", c.modelArgsKey());
        assertEquals(48, c.modelArgs().get("sliding_window").asInt());
        assertEquals("byte", c.patcherArgs().get("patching_mode").asText());
        assertTrue(c.trainArgs().get("model").isNull());
        assertEquals(c.modelArgs(), c.hubConfig().get("args"));
        assertEquals(dev.patchwork.util.Json.readTree(PthReferenceTest.resource("entropy_model/config.json")), c.hubConfig());
        try (PthFile weights = c.openWeights()) {
            assertEquals(21, weights.tensors().size());
        }
    }

    @Test
    void aBltRunUsesTheModelArguments() throws Exception {
        ConsolidatedCheckpoint c = ConsolidatedCheckpoint.read(PthReferenceTest.resource("blt_consolidated"));
        assertFalse(c.isEntropyModel());
        assertEquals("model", c.modelArgsKey());
        assertEquals(dev.patchwork.util.Json.readTree(PthReferenceTest.resource("config.json")), c.hubConfig());
        assertEquals("entropy", c.patcherArgs().get("patching_mode").asText());
    }

    @Test
    void refusesIncompleteDirectories() throws Exception {
        assertFalse(ConsolidatedCheckpoint.isConsolidated(dir));
        var e = assertThrows(CheckpointException.class, () -> ConsolidatedCheckpoint.read(dir));
        assertEquals(dir + ": has no params.json, so it is not a consolidated checkpoint (which has params.json and consolidated.pth)", e.getMessage());
        Files.writeString(dir.resolve("params.json"), "{\"train_entropy_model\": true, \"model\": {\"dim\": 8}, \"entropy_model\": null}");
        e = assertThrows(CheckpointException.class, () -> ConsolidatedCheckpoint.read(dir));
        assertTrue(e.getMessage().endsWith("has no consolidated.pth, so it is not a consolidated checkpoint (which has params.json and consolidated.pth)"), e.getMessage());
        Files.write(dir.resolve("consolidated.pth"), PthFiles.views().bytes());
        assertTrue(ConsolidatedCheckpoint.isConsolidated(dir));
        e = assertThrows(CheckpointException.class, () -> ConsolidatedCheckpoint.read(dir));
        assertEquals(dir.resolve("params.json") + ": has no \"entropy_model\" object, which holds the model's arguments when train_entropy_model is true", e.getMessage());
        Files.writeString(dir.resolve("params.json"), "{\"train_entropy_model\": \"yes\"}");
        e = assertThrows(CheckpointException.class, () -> ConsolidatedCheckpoint.read(dir));
        assertTrue(e.getMessage().endsWith("train_entropy_model must be true or false, got \"yes\""), e.getMessage());
        Files.writeString(dir.resolve("params.json"), "[1]");
        e = assertThrows(CheckpointException.class, () -> ConsolidatedCheckpoint.read(dir));
        assertTrue(e.getMessage().endsWith("expected a JSON object (the reference's TrainArgs)"), e.getMessage());
        Files.writeString(dir.resolve("params.json"), "{\"model\": {\"dim\": 8}}");
        ConsolidatedCheckpoint c = ConsolidatedCheckpoint.read(dir);
        assertEquals(8, c.modelArgs().get("dim").asInt());
        assertTrue(c.patcherArgs().isMissingNode());
    }
}

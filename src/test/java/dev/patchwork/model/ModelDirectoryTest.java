package dev.patchwork.model;

import dev.patchwork.util.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** The model kind comes from config.json alone; a BLT directory finds its entropy model and train_args.json. */
class ModelDirectoryTest {
    static Path referenceTiny() throws Exception {
        return Path.of(ModelDirectoryTest.class.getResource("/reference-tiny/config.json").toURI()).getParent();
    }

    @Test
    void theKindComesFromTheConfigFields() throws Exception {
        assertEquals(ModelDirectory.Kind.BLT, ModelDirectory.kindOf(Json.MAPPER.readTree("{\"args\": {\"dim_global\": 80}}")));
        assertEquals(ModelDirectory.Kind.BLT, ModelDirectory.kindOf(Json.MAPPER.readTree("{\"n_layers_global\": 2, \"dim\": 80}")));
        assertEquals(ModelDirectory.Kind.BYTE_LM, ModelDirectory.kindOf(Json.MAPPER.readTree("{\"args\": {\"dim\": 24, \"n_layers\": 2}}")));
        assertEquals(ModelDirectory.Kind.BYTE_LM, ModelDirectory.kindOf(Json.MAPPER.readTree("{\"dim\": 24}")));
        assertEquals(ModelDirectory.Kind.BLT, ModelDirectory.of(referenceTiny()).kind());
        assertEquals(ModelDirectory.Kind.BYTE_LM, ModelDirectory.of(referenceTiny().resolve("entropy_model")).kind());
    }

    @Test
    void aHubDirectoryHasItsEntropyModelAndTrainArgs() throws Exception {
        ModelDirectory d = ModelDirectory.of(referenceTiny());
        assertEquals(referenceTiny().resolve("entropy_model"), d.entropyModelDir().orElseThrow());
        assertEquals(3.1328125, d.patcherArgs().orElseThrow().get("threshold").doubleValue());
        assertEquals(500_872, d.loadBlt().layout().parameterCount());
        assertEquals(54_072, d.loadEntropyModel().layout().parameterCount());
        var e = assertThrows(RuntimeException.class, d::loadByteLm);
        assertTrue(e.getMessage().contains("holds a BLT"), e.getMessage());
    }

    @Test
    void aRunDirectoryResolvesToItsCheckpoint(@TempDir Path tmp) throws Exception {
        Path ckpt = Files.createDirectories(tmp.resolve("run/checkpoint"));
        Files.copy(referenceTiny().resolve("config.json"), ckpt.resolve("config.json"));
        ModelDirectory d = ModelDirectory.of(tmp.resolve("run"));
        assertEquals(ckpt, d.checkpoint());
        assertEquals(ModelDirectory.Kind.BLT, d.kind());
        assertTrue(d.entropyModelDir().isEmpty() && d.trainArgs().isEmpty());
        Files.writeString(tmp.resolve("run/train_args.json"), "{\"data\": {\"patcher_args\": {\"threshold\": 2.5}}}");
        assertEquals(2.5, d.patcherArgs().orElseThrow().get("threshold").doubleValue());
        var e = assertThrows(RuntimeException.class, d::loadEntropyModel);
        assertTrue(e.getMessage().contains("entropy_model"), e.getMessage());
    }
}

package dev.patchwork.io;

import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.tensor.ParameterLayout;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CheckpointTest {
    @TempDir
    Path dir;

    private final ParameterLayout layout = SafetensorsRoundTripTest.smallLayout();

    private static void assertSameBits(ParameterBuffer expected, ParameterBuffer actual) {
        assertEquals(-1, expected.segment().asSlice(0, expected.floats() * 4).mismatch(actual.segment().asSlice(0, actual.floats() * 4)));
    }

    @Test
    void fullTrainingCheckpointRoundTripsWithNestedEntropyModel() {
        ParameterBuffer params = SafetensorsRoundTripTest.randomBuffer(layout, 11);
        ParameterBuffer m = SafetensorsRoundTripTest.randomBuffer(layout, 12);
        ParameterBuffer v = SafetensorsRoundTripTest.randomBuffer(layout, 13);
        ParameterLayout.Builder eb = ParameterLayout.builder();
        eb.add("tok_embeddings.weight", 5, 3);
        ParameterLayout entropyLayout = eb.build();
        ParameterBuffer entropy = SafetensorsRoundTripTest.randomBuffer(entropyLayout, 14);
        Path ckpt = dir.resolve("run/checkpoint");

        Checkpoint.builder("{\"dim\": 7}", params)
                .optimizer(m, v)
                .trainerState("{\"step\": 120}")
                .metadata("format", "pt")
                .subdirectory("entropy_model", Checkpoint.builder("{\"dim\": 3}", entropy))
                .save(ckpt);

        assertEquals("{\"dim\": 7}", Checkpoint.readConfig(ckpt));
        assertEquals(Optional.of("{\"step\": 120}"), Checkpoint.readTrainerState(ckpt));
        assertTrue(Checkpoint.hasOptimizerState(ckpt));
        Checkpoint.verify(ckpt);
        ParameterBuffer p2 = ParameterBuffer.allocate(layout), m2 = ParameterBuffer.allocate(layout), v2 = ParameterBuffer.allocate(layout);
        Checkpoint.loadModel(ckpt, p2);
        Checkpoint.loadOptimizer(ckpt, m2, v2);
        assertSameBits(params, p2);
        assertSameBits(m, m2);
        assertSameBits(v, v2);
        try (SafetensorsFile model = Checkpoint.openModel(ckpt)) {
            assertEquals("pt", model.metadata().get("format"));
        }

        Path sub = ckpt.resolve("entropy_model");
        assertEquals("{\"dim\": 3}", Checkpoint.readConfig(sub));
        ParameterBuffer e2 = ParameterBuffer.allocate(entropyLayout);
        Checkpoint.loadModel(sub, e2);
        assertSameBits(entropy, e2);
        assertFalse(Checkpoint.hasOptimizerState(sub));
    }

    @Test
    void inferenceCheckpointHasNoTrainingState() {
        Path ckpt = dir.resolve("ckpt");
        Checkpoint.builder("{}", SafetensorsRoundTripTest.randomBuffer(layout, 1)).save(ckpt);
        assertFalse(Checkpoint.hasOptimizerState(ckpt));
        assertEquals(Optional.empty(), Checkpoint.readTrainerState(ckpt));
        CheckpointException e = assertThrows(CheckpointException.class,
                () -> Checkpoint.loadOptimizer(ckpt, ParameterBuffer.allocate(layout), ParameterBuffer.allocate(layout)));
        assertEquals(ckpt + ": checkpoint has no optimizer.safetensors (incomplete, or not a checkpoint directory)", e.getMessage());
    }

    @Test
    void savingAgainReplacesTheWholeCheckpoint() throws IOException {
        Path ckpt = dir.resolve("ckpt");
        ParameterBuffer first = SafetensorsRoundTripTest.randomBuffer(layout, 1);
        Checkpoint.builder("{\"v\":1}", first).optimizer(first, first).trainerState("{}").save(ckpt);
        ParameterBuffer second = SafetensorsRoundTripTest.randomBuffer(layout, 2);
        Checkpoint.builder("{\"v\":2}", second).save(ckpt);
        assertEquals("{\"v\":2}", Checkpoint.readConfig(ckpt));
        assertFalse(Checkpoint.hasOptimizerState(ckpt), "files of the previous checkpoint must not survive");
        ParameterBuffer back = ParameterBuffer.allocate(layout);
        Checkpoint.loadModel(ckpt, back);
        assertSameBits(second, back);
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(List.of("ckpt"), s.map(p -> p.getFileName().toString()).toList());
        }
    }

    @Test
    void aSaveThatFailsHalfwayKeepsThePreviousCheckpoint() throws IOException {
        Path ckpt = dir.resolve("ckpt");
        ParameterBuffer good = SafetensorsRoundTripTest.randomBuffer(layout, 1);
        Checkpoint.builder("{\"v\":1}", good).save(ckpt);
        // parameters whose memory is gone: config.json gets written, then copying the tensors throws
        Arena arena = Arena.ofConfined();
        ParameterBuffer broken = ParameterBuffer.wrap(layout, arena.allocate(layout.totalFloats() * 4));
        arena.close();
        assertThrows(IllegalStateException.class, () -> Checkpoint.builder("{\"v\":2}", broken).save(ckpt));
        assertEquals("{\"v\":1}", Checkpoint.readConfig(ckpt));
        ParameterBuffer back = ParameterBuffer.allocate(layout);
        Checkpoint.loadModel(ckpt, back);
        assertSameBits(good, back);
        try (Stream<Path> s = Files.list(dir)) {
            assertEquals(List.of("ckpt"), s.map(p -> p.getFileName().toString()).toList());
        }
    }

    @Test
    void missingDirectoryAndMissingFilesAreReportedClearly() throws IOException {
        Path ckpt = dir.resolve("ckpt");
        ParameterBuffer params = ParameterBuffer.allocate(layout);
        assertEquals(ckpt + ": checkpoint directory does not exist",
                assertThrows(CheckpointException.class, () -> Checkpoint.loadModel(ckpt, params)).getMessage());
        Path file = Files.writeString(dir.resolve("file"), "x");
        assertEquals(file + ": is a file, but a checkpoint is a directory",
                assertThrows(CheckpointException.class, () -> Checkpoint.readConfig(file)).getMessage());

        Checkpoint.builder("{}", params).save(ckpt);
        Files.delete(ckpt.resolve("config.json"));
        assertEquals(ckpt + ": checkpoint has no config.json (incomplete, or not a checkpoint directory)",
                assertThrows(CheckpointException.class, () -> Checkpoint.verify(ckpt)).getMessage());
        Checkpoint.builder("{}", params).save(ckpt);
        Files.delete(ckpt.resolve("model.safetensors"));
        assertEquals(ckpt + ": checkpoint has no model.safetensors (incomplete, or not a checkpoint directory)",
                assertThrows(CheckpointException.class, () -> Checkpoint.loadModel(ckpt, params)).getMessage());
    }

    @Test
    void truncatedOrCorruptFilesAreReportedWithTheirPath() throws IOException {
        Path ckpt = dir.resolve("ckpt");
        ParameterBuffer params = SafetensorsRoundTripTest.randomBuffer(layout, 5);
        Checkpoint.builder("{}", params).optimizer(params, params).save(ckpt);
        Path model = ckpt.resolve("model.safetensors");
        try (FileChannel ch = FileChannel.open(model, StandardOpenOption.WRITE)) {
            ch.truncate(ch.size() / 2);
        }
        CheckpointException e = assertThrows(CheckpointException.class, () -> Checkpoint.loadModel(ckpt, ParameterBuffer.allocate(layout)));
        assertTrue(e.getMessage().startsWith(model + ": tensor ") && e.getMessage().contains("truncated file?"), e.getMessage());
        assertThrows(CheckpointException.class, () -> Checkpoint.verify(ckpt));

        Path optimizer = ckpt.resolve("optimizer.safetensors");
        byte[] bytes = Files.readAllBytes(optimizer);
        bytes[8] = '#'; // the header's opening brace
        Files.write(optimizer, bytes);
        CheckpointException o = assertThrows(CheckpointException.class,
                () -> Checkpoint.loadOptimizer(ckpt, ParameterBuffer.allocate(layout), ParameterBuffer.allocate(layout)));
        assertTrue(o.getMessage().startsWith(optimizer + ": header is not valid JSON"), o.getMessage());

        Files.writeString(ckpt.resolve("config.json"), "{\"dim\": ");
        assertTrue(assertThrows(CheckpointException.class, () -> Checkpoint.readConfig(ckpt)).getMessage()
                .startsWith(ckpt.resolve("config.json") + ": is not valid JSON"));
    }

    @Test
    void badArgumentsAreRejectedBeforeAnythingIsWritten() {
        ParameterBuffer params = ParameterBuffer.allocate(layout);
        ParameterLayout.Builder other = ParameterLayout.builder();
        other.add("x", 3);
        ParameterBuffer wrong = ParameterBuffer.allocate(other.build());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Checkpoint.builder("{not json", params))
                .getMessage().startsWith("the config is not valid JSON"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Checkpoint.builder("{}", params).optimizer(wrong, params))
                .getMessage().contains("must have the parameters' layout"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Checkpoint.builder("{}", params).trainerState(""))
                .getMessage().startsWith("the trainer state is not valid JSON"));
        assertTrue(assertThrows(IllegalArgumentException.class,
                () -> Checkpoint.builder("{}", params).subdirectory("../escape", Checkpoint.builder("{}", params)))
                .getMessage().contains("cannot name a checkpoint subdirectory"));
    }

    @Test
    void optimizerFileWithForeignTensorsIsRejected() {
        Path ckpt = dir.resolve("ckpt");
        ParameterBuffer params = SafetensorsRoundTripTest.randomBuffer(layout, 5);
        Checkpoint.builder("{}", params).optimizer(params, params).save(ckpt);
        Safetensors.writer().addAll(params, "m.").addAll(params, "v.").add("step", new int[]{1}, new float[]{3})
                .write(ckpt.resolve("optimizer.safetensors"));
        CheckpointException e = assertThrows(CheckpointException.class,
                () -> Checkpoint.loadOptimizer(ckpt, ParameterBuffer.allocate(layout), ParameterBuffer.allocate(layout)));
        assertTrue(e.getMessage().contains("unexpected tensor step"), e.getMessage());
    }
}

package dev.patchwork.train;

import dev.patchwork.data.ByteCorpus;
import dev.patchwork.data.CorpusSource;
import dev.patchwork.model.ByteLmConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class ResumeTest {
    static final ByteLmConfig MODEL = new ByteLmConfig(16, 2, null, 2, null, null, 16, 1e-5, 10000.0, null,
            "disabled", 16, 7L, 260, false, 8, "local_block_causal", null, 2, null, null, null);

    static TrainSettings settings(int checkpointEvery) {
        return new TrainSettings(8, 3, 16, 3e-3, 0.1, 2, "cosine", 0.9, 0.95, 1e-8, 0.1, 1.0, 4, 2, checkpointEvery,
                1, 11L, 0.2);
    }

    static Path corpus(Path dir) throws Exception {
        Path f = dir.resolve("text.txt");
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 200; i++) sb.append("line ").append(i).append(": the quick brown fox\n");
        Files.writeString(f, sb);
        return f;
    }

    @Test
    void resumedRunIsBitIdenticalToAnUninterruptedOne(@TempDir Path tmp) throws Exception {
        Path data = corpus(tmp);
        Path full = tmp.resolve("full"), split = tmp.resolve("split");
        PrintStream quiet = new PrintStream(OutputStream.nullOutputStream());

        ByteCorpus c1 = ByteCorpus.open(CorpusSource.of(data), tmp.resolve("cache"), (d, b, f) -> {});
        Trainer.Result a = ByteLmTrainer.start(MODEL, settings(100), c1, data.toString(), full, quiet, StopSignal.manual()).run();
        assertEquals(8, a.steps());
        assertFalse(a.interrupted());

        StopSignal stop = StopSignal.manual();
        Trainer.Result b1 = ByteLmTrainer.start(MODEL, settings(100), c1, data.toString(), split, StopLog.afterStep(stop, 3), stop).run();
        assertTrue(b1.interrupted());
        assertEquals(3, b1.steps());
        Trainer.Result b2 = ByteLmTrainer.resume(p -> ByteCorpus.open(CorpusSource.of(Path.of(p)), tmp.resolve("cache"),
                (d, b, f) -> {}), split, quiet, StopSignal.manual()).run();
        assertEquals(8, b2.steps());

        assertArrayEquals(Files.readAllBytes(full.resolve("checkpoint/model.safetensors")), Files.readAllBytes(split.resolve("checkpoint/model.safetensors")));
        assertArrayEquals(Files.readAllBytes(full.resolve("checkpoint/optimizer.safetensors")), Files.readAllBytes(split.resolve("checkpoint/optimizer.safetensors")));
        List<String> la = Files.readAllLines(full.resolve("metrics.jsonl")), lb = Files.readAllLines(split.resolve("metrics.jsonl"));
        assertEquals(la.size(), lb.size());
        for (int i = 0; i < la.size(); i++) // same losses; timing fields differ
            assertEquals(la.get(i).replaceAll(",\"bytes_per_s.*", ""), lb.get(i).replaceAll(",\"bytes_per_s.*", ""));
        assertTrue(Files.exists(split.resolve("loss.png")));
    }

    @Test
    void startingOverAnExistingRunIsRefused(@TempDir Path tmp) throws Exception {
        Path data = corpus(tmp);
        ByteCorpus c = ByteCorpus.open(CorpusSource.of(data), tmp.resolve("cache"), (d, b, f) -> {});
        PrintStream quiet = new PrintStream(OutputStream.nullOutputStream());
        ByteLmTrainer.start(MODEL, settings(4), c, data.toString(), tmp.resolve("run"), quiet, StopSignal.manual()).run();
        var e = assertThrows(dev.patchwork.util.PatchworkException.class, () ->
                ByteLmTrainer.start(MODEL, settings(4), c, data.toString(), tmp.resolve("run"), quiet, StopSignal.manual()));
        assertTrue(e.getMessage().contains("--resume"), e.getMessage());
    }
}

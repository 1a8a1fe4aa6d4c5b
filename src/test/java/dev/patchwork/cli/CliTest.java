package dev.patchwork.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.patchwork.util.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.*;

/** The command line end to end, in process: results on stdout, one-line errors and exit codes. */
class CliTest {
    record Run(int code, String out, String err) {}

    static synchronized Run run(String... args) {
        PrintStream oldOut = System.out, oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int code = Main.run(args);
            return new Run(code, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    static final String TINY = "{\"model\": {\"dim\": 16, \"n_layers\": 1, \"n_heads\": 2, \"multiple_of\": 16, \"max_seqlen\": 16},"
            + " \"train\": {\"steps\": 6, \"batch_size\": 4, \"lr\": 0.02, \"warmup\": 1, \"eval_every\": 3, \"eval_batches\": 2, \"checkpoint_every\": 3, \"log_every\": 1}}";

    static Path write(Path dir, String name, String content) throws Exception {
        Path p = dir.resolve(name);
        Files.writeString(p, content);
        return p;
    }

    /** The error output is one line that starts with "patchwork:" and contains {@code expected}. */
    static void assertOneLineError(Run r, String expected) {
        assertNotEquals(0, r.code(), r.err());
        String[] lines = r.err().strip().split("\n");
        assertEquals(1, lines.length, "expected one line, got:\n" + r.err());
        assertTrue(lines[0].startsWith("patchwork:"), lines[0]);
        assertTrue(lines[0].contains(expected), "'" + lines[0] + "' should mention '" + expected + "'");
    }

    @Test
    void trainEvaluateGenerate(@TempDir Path tmp) throws Exception {
        Path data = write(tmp, "data.txt", "hello world, hello bytes. ".repeat(80));
        Path cfg = write(tmp, "c.json", TINY);
        Path runDir = tmp.resolve("run");
        Run t = run("train", "--config", cfg.toString(), "--data", data.toString(), "--out", runDir.toString());
        assertEquals(0, t.code(), t.err());
        assertTrue(t.err().contains("step 6/6"), t.err());
        for (String f : new String[]{"checkpoint/config.json", "checkpoint/model.safetensors", "checkpoint/optimizer.safetensors",
                "checkpoint/trainer.json", "metrics.jsonl", "loss.png"})
            assertTrue(Files.exists(runDir.resolve(f)), f);

        Run e = run("eval", "--model", runDir.toString(), "--data", data.toString(), "--json");
        assertEquals(0, e.code(), e.err());
        JsonNode j = Json.MAPPER.readTree(e.out());
        assertEquals(2080, j.get("bytes").asLong());
        assertEquals(2081, j.get("predicted_tokens").asLong()); // every byte and the final EOS
        double bpb = j.get("bits_per_byte").asDouble();
        assertTrue(bpb > 0 && bpb < 7.0, "bpb " + bpb);

        Run g = run("generate", "--model", runDir.toString(), "--prompt", "hello", "--max-bytes", "12", "--greedy");
        assertEquals(0, g.code(), g.err());
        assertTrue(g.out().startsWith("hello"), g.out());
        Run g2 = run("generate", "--model", runDir.toString(), "--prompt", "hello", "--max-bytes", "12", "--greedy");
        assertEquals(g.out(), g2.out(), "greedy generation is deterministic");
    }

    @Test
    void badInputGivesOneLineErrors(@TempDir Path tmp) throws Exception {
        Path data = write(tmp, "data.txt", "some text ".repeat(50));
        Path cfg = write(tmp, "c.json", TINY);
        assertOneLineError(run("train", "--config", cfg.toString(), "--data", tmp.resolve("missing.txt").toString(),
                "--out", tmp.resolve("r1").toString()), "not found");
        assertOneLineError(run("train", "--config", cfg.toString(), "--data", write(tmp, "empty.txt", "").toString(),
                "--out", tmp.resolve("r2").toString()), "empty");
        assertOneLineError(run("train", "--config", write(tmp, "u.json", "{\"dim\": 16, \"n_heads\": 2, \"bogus\": 1}").toString(),
                "--data", data.toString(), "--out", tmp.resolve("r3").toString()), "unknown field 'bogus'");
        assertOneLineError(run("train", "--config", write(tmp, "v.json", "{\"dim\": -16, \"n_heads\": 2}").toString(),
                "--data", data.toString(), "--out", tmp.resolve("r4").toString()), "dim must be > 0");
        assertOneLineError(run("train", "--config", write(tmp, "w.json", "{\"dim\": 16, \"n_heads\": \"two\"}").toString(),
                "--data", data.toString(), "--out", tmp.resolve("r5").toString()), "n_heads");
        assertOneLineError(run("train", "--config", write(tmp, "x.json", "{\"dim\": 16,").toString(),
                "--data", data.toString(), "--out", tmp.resolve("r6").toString()), "not valid JSON");
        assertOneLineError(run("train", "--config", cfg.toString(), "--data", data.toString(), "--out",
                tmp.resolve("r7").toString(), "--lr", "-1"), "lr must be > 0");
        assertOneLineError(run("train", "--resume", "--out", tmp.resolve("nothing").toString()), "nothing to resume");
        assertOneLineError(run("eval", "--model", tmp.resolve("nomodel").toString(), "--data", data.toString()), "not found");
        assertOneLineError(run("generate", "--model", tmp.toString(), "--prompt", "x"), "config.json");
        assertOneLineError(run("train", "--config", write(tmp, "huge.json",
                        "{\"dim\": 8192, \"n_layers\": 96, \"n_heads\": 64, \"max_seqlen\": 4096}").toString(),
                "--data", data.toString(), "--out", tmp.resolve("r8").toString(), "--batch-size", "64"), "needs about");
        Run usage = run("train", "--no-such-flag");
        assertEquals(2, usage.code());
        // a global switch is checked before any command runs: still one line, not a stack trace
        assertOneLineError(run("--threads", "0", "info"), "--threads must be >= 1");
    }

    @Test
    void corruptOrTruncatedCheckpointsAreReportedNotCrashed(@TempDir Path tmp) throws Exception {
        Path data = write(tmp, "data.txt", "abcdefgh ".repeat(100));
        Path runDir = tmp.resolve("run");
        assertEquals(0, run("train", "--config", write(tmp, "c.json", TINY).toString(), "--data", data.toString(),
                "--out", runDir.toString()).code());
        Path weights = runDir.resolve("checkpoint/model.safetensors");
        byte[] good = Files.readAllBytes(weights);

        Files.write(weights, Arrays.copyOf(good, good.length / 2)); // truncated
        assertOneLineError(run("eval", "--model", runDir.toString(), "--data", data.toString()), "model.safetensors");

        byte[] bad = good.clone();
        for (int i = 8; i < 40; i++) bad[i] = '#'; // header JSON destroyed
        Files.write(weights, bad);
        assertOneLineError(run("generate", "--model", runDir.toString(), "--prompt", "a"), "model.safetensors");

        Files.write(weights, good);
        Files.writeString(runDir.resolve("checkpoint/config.json"), "{\"args\": {\"dim\": 32, \"n_layers\": 1, \"n_heads\": 2, \"multiple_of\": 16, \"max_seqlen\": 16}}");
        assertOneLineError(run("eval", "--model", runDir.toString(), "--data", data.toString()), "shape");
    }
}

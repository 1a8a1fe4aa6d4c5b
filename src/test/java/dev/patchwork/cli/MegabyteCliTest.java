package dev.patchwork.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.patchwork.data.ByteCorpus;
import dev.patchwork.data.CorpusSource;
import dev.patchwork.model.ModelDirectory;
import dev.patchwork.train.MegabyteTrainer;
import dev.patchwork.train.StopLog;
import dev.patchwork.train.StopSignal;
import dev.patchwork.train.TrainSettings;
import dev.patchwork.train.Trainer;
import dev.patchwork.model.MegabyteConfig;
import dev.patchwork.util.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;

import static dev.patchwork.cli.CliTest.assertOneLineError;
import static dev.patchwork.cli.CliTest.run;
import static dev.patchwork.cli.CliTest.write;
import static org.junit.jupiter.api.Assertions.*;

/** MEGABYTE through the command line: train, eval, generate, resume, bad configs. */
class MegabyteCliTest {
    static final String MODEL = "{\"patch_size\": 4, \"global_dim\": 8, \"global_layers\": 1, \"global_heads\": 2,"
            + " \"local_dim\": 16, \"local_layers\": 1, \"local_heads\": 2, \"multiple_of\": 16, \"max_seqlen\": 32}";
    static final String TRAIN = "{\"steps\": 6, \"batch_size\": 4, \"lr\": 0.02, \"warmup\": 1, \"eval_every\": 3,"
            + " \"eval_batches\": 2, \"checkpoint_every\": 3, \"log_every\": 1}";

    @Test
    void trainEvaluateGenerate(@TempDir Path tmp) throws Exception {
        Path data = write(tmp, "data.txt", "hello world, hello bytes. ".repeat(80));
        Path cfg = write(tmp, "c.json", "{\"model\": " + MODEL + ", \"train\": " + TRAIN + "}");
        Path runDir = tmp.resolve("run");
        CliTest.Run t = run("train", "--config", cfg.toString(), "--data", data.toString(), "--out", runDir.toString());
        assertEquals(0, t.code(), t.err());
        assertTrue(t.err().contains("step 6/6") && t.err().contains("MEGABYTE"), t.err());
        assertEquals(ModelDirectory.Kind.MEGABYTE, ModelDirectory.kindOf(runDir));
        assertEquals("megabyte", Json.readTree(runDir.resolve("checkpoint/trainer.json")).path("kind").asText());

        CliTest.Run e = run("eval", "--model", runDir.toString(), "--data", data.toString(), "--json");
        assertEquals(0, e.code(), e.err());
        JsonNode j = Json.MAPPER.readTree(e.out());
        assertEquals("megabyte", j.get("model").asText());
        assertEquals(2080, j.get("bytes").asLong());
        assertEquals(2081, j.get("predicted_tokens").asLong()); // every byte and the final EOS
        double bpb = j.get("bits_per_byte").asDouble();
        assertTrue(bpb > 0 && bpb < 7.0, "bpb " + bpb);
        assertTrue(j.get("flops_per_byte_inference").asDouble() > 0);

        CliTest.Run g = run("generate", "--model", runDir.toString(), "--prompt", "hello", "--max-bytes", "40", "--greedy");
        assertEquals(0, g.code(), g.err());
        assertTrue(g.out().startsWith("hello"), g.out());
        assertEquals(g.out(), run("generate", "--model", runDir.toString(), "--prompt", "hello", "--max-bytes", "40", "--greedy").out(),
                "greedy generation is deterministic");
        CliTest.assertOneLineError(run("serve", "--model", runDir.toString(), "--port", "0"), "holds a MEGABYTE");
    }

    @Test
    void anInterruptedRunResumedFromTheCommandLineEndsBitIdentical(@TempDir Path tmp) throws Exception {
        Path data = write(tmp, "data.txt", "the quick brown fox jumps over the lazy dog\n".repeat(60));
        MegabyteConfig config = MegabyteConfig.fromJson(Json.MAPPER.readTree(MODEL), "model");
        TrainSettings settings = Json.bind(Json.MAPPER.readTree(TRAIN), TrainSettings.class, "train");
        String source = data.toAbsolutePath().normalize().toString();
        PrintStream quiet = new PrintStream(OutputStream.nullOutputStream());
        Path full = tmp.resolve("full"), split = tmp.resolve("split");
        ByteCorpus corpus = ByteCorpus.open(CorpusSource.of(data), tmp.resolve("cache"), (d, b, f) -> {});
        assertEquals(6, MegabyteTrainer.start(config, settings, corpus, source, full, quiet, StopSignal.manual()).run().steps());

        StopSignal stop = StopSignal.manual();
        Trainer.Result first = MegabyteTrainer.start(config, settings, corpus, source, split, StopLog.afterStep(stop, 2), stop).run();
        assertTrue(first.interrupted());
        assertTrue(MegabyteTrainer.isMegabyteRun(split));
        CliTest.Run r = run("train", "--resume", "--out", split.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("resuming at step 2"), r.err());
        for (String f : new String[]{"model.safetensors", "optimizer.safetensors"})
            assertArrayEquals(Files.readAllBytes(full.resolve("checkpoint").resolve(f)), Files.readAllBytes(split.resolve("checkpoint").resolve(f)), f);
    }

    @Test
    void badConfigsAreOneLineErrors(@TempDir Path tmp) throws Exception {
        Path data = write(tmp, "data.txt", "abcdefgh ".repeat(100));
        assertOneLineError(run("train", "--config", write(tmp, "a.json", "{\"model\": " + MODEL.replace("\"patch_size\": 4", "\"patch_size\": 5")
                + "}").toString(), "--data", data.toString(), "--out", tmp.resolve("a").toString()), "multiple of patch_size");
        assertOneLineError(run("train", "--config", write(tmp, "b.json", "{\"model\": " + MODEL + ", \"train\": " + TRAIN + "}").toString(),
                "--data", data.toString(), "--out", tmp.resolve("b").toString(), "--seq-len", "30"), "seq_len 30 must be a multiple of patch_size 4");
        assertOneLineError(run("train", "--config", write(tmp, "c.json", "{\"model\": " + MODEL.replace("\"local_heads\": 2", "\"local_heads\": 3")
                + "}").toString(), "--data", data.toString(), "--out", tmp.resolve("c").toString()), "local_heads");
    }
}

package dev.patchwork.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.patchwork.data.ByteCorpus;
import dev.patchwork.data.CorpusSource;
import dev.patchwork.model.ByteLm;
import dev.patchwork.model.ByteLmCheckpoint;
import dev.patchwork.tensor.ParameterLayout;
import dev.patchwork.train.BltTrainConfig;
import dev.patchwork.train.BltTrainer;
import dev.patchwork.train.StopLog;
import dev.patchwork.train.StopSignal;
import dev.patchwork.train.Trainer;
import dev.patchwork.util.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static dev.patchwork.cli.CliTest.assertOneLineError;
import static dev.patchwork.cli.CliTest.run;
import static dev.patchwork.cli.CliTest.write;
import static org.junit.jupiter.api.Assertions.*;

/**
 * BLT training end to end through the command line: an entropy model trained first, entropies and patches cached,
 * the BLT trained, evaluated and inspected; a run interrupted while its entropy model trains resumes to the same bits
 * as an uninterrupted one; bad configs give one-line errors.
 */
class BltTrainCliTest {
    static final String MODEL = "{\"dim_global\": 32, \"n_layers_global\": 1, \"n_heads_global\": 2,"
            + " \"dim_local_encoder\": 16, \"n_layers_local_encoder\": 1, \"n_heads_local_encoder\": 2,"
            + " \"dim_local_decoder\": 16, \"n_layers_local_decoder\": 1, \"n_heads_local_decoder\": 2,"
            + " \"cross_attn_k\": 2, \"cross_attn_nheads\": 2, \"cross_attn_all_layers_decoder\": true,"
            + " \"encoder_hash_byte_group_size\": [3, 4], \"encoder_hash_byte_group_nb_functions\": 1,"
            + " \"encoder_hash_byte_group_vocab\": 64, \"local_attention_window_len\": 32, \"max_seqlen\": 16,"
            + " \"max_encoder_seq_length\": 256, \"multiple_of\": 16, \"seed\": 3}";
    static final String ENTROPY = "{\"model\": {\"dim\": 16, \"n_layers\": 1, \"n_heads\": 2, \"multiple_of\": 16, \"max_seqlen\": 64},"
            + " \"train\": {\"steps\": 6, \"batch_size\": 4, \"lr\": 0.03, \"warmup\": 1, \"eval_every\": 0, \"eval_batches\": 1,"
            + " \"checkpoint_every\": 0, \"log_every\": 1}}";
    static final String TRAIN = "{\"steps\": 6, \"batch_size\": 2, \"seq_len\": 8, \"lr\": 0.01, \"warmup\": 1, \"eval_every\": 3,"
            + " \"eval_batches\": 2, \"checkpoint_every\": 3, \"log_every\": 1}";
    static final String CONFIG = "{\"model\": " + MODEL + ", \"patcher\": {\"patching_mode\": \"entropy\", \"target_patch_size\": 3},"
            + " \"entropy_model\": " + ENTROPY + ", \"train\": " + TRAIN + "}";

    static Path corpus(Path tmp) throws Exception {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 60; i++) sb.append("hello world, hello bytes ").append(i % 7).append(". ");
        return write(tmp, "data.txt", sb.toString());
    }

    @Test
    void trainEvaluateInspectAndResume(@TempDir Path tmp) throws Exception {
        Path data = corpus(tmp), cfg = write(tmp, "blt.json", CONFIG), run = tmp.resolve("run");
        CliTest.Run t = run("train", "--config", cfg.toString(), "--data", data.toString(), "--out", run.toString());
        assertEquals(0, t.code(), t.err());
        assertTrue(t.err().contains("entropy model: training it first"), t.err());
        assertTrue(t.err().contains("patches: entropy"), t.err());
        assertTrue(t.err().contains("model: BLT"), t.err());
        assertTrue(t.err().contains("step 6/6"), t.err());
        for (String f : new String[]{"checkpoint/config.json", "checkpoint/model.safetensors", "checkpoint/optimizer.safetensors",
                "checkpoint/trainer.json", "checkpoint/train_args.json", "checkpoint/entropy_model/config.json",
                "checkpoint/entropy_model/model.safetensors", "metrics.jsonl", "loss.png", "blt_run.json",
                "entropy_model_run/checkpoint/model.safetensors"})
            assertTrue(Files.exists(run.resolve(f)), f);
        ByteLm trained = ByteLmCheckpoint.load(run.resolve("entropy_model_run")), kept = ByteLmCheckpoint.load(run.resolve("checkpoint/entropy_model"));
        for (ParameterLayout.View v : trained.layout().views())
            assertArrayEquals(trained.parameters().toArray(v), kept.parameters().toArray(v), "the run keeps the entropy model it trained: " + v.name());
        // θ calibrated for mean patch size 3 on the training split, and recorded wherever the reference looks for it
        JsonNode trainArgs = Json.readTree(run.resolve("checkpoint/train_args.json"));
        double theta = trainArgs.at("/data/patcher_args/threshold").asDouble();
        assertTrue(t.err().contains("patcher: threshold " + (float) theta + " gives mean patch size"), t.err());
        assertEquals(8, trainArgs.at("/data/seq_len").asInt());
        assertEquals(theta, Json.readTree(run.resolve("checkpoint/config.json")).at("/args/patching_threshold").asDouble());
        assertEquals(theta, Json.readTree(run.resolve("checkpoint/trainer.json")).at("/patcher/threshold").asDouble());
        assertEquals("blt", Json.readTree(run.resolve("checkpoint/trainer.json")).get("kind").asText());
        long evals = Files.readAllLines(run.resolve("metrics.jsonl")).stream().filter(l -> l.contains("\"eval\"")).count();
        assertEquals(2, evals);

        CliTest.Run e = run("eval", "--model", run.toString(), "--data", data.toString(), "--json");
        assertEquals(0, e.code(), e.err());
        JsonNode j = Json.MAPPER.readTree(e.out());
        assertEquals("blt", j.get("model").asText());
        double bpb = j.get("bits_per_byte").asDouble(), size = j.get("mean_patch_size").asDouble();
        assertTrue(bpb > 0 && bpb < 8.1, "bpb " + bpb);
        assertEquals(Files.size(data) + 1, j.get("predicted_tokens").asLong());
        assertEquals(3, size, 0.3, "mean patch size near the calibration target");
        double inference = j.get("flops_per_byte_inference").asDouble();
        assertTrue(inference > 0);
        assertEquals(3 * inference, j.get("flops_per_byte_train").asDouble(), 1e-9 * inference);

        // the inspector finds the run's entropy model and takes θ from its train_args.json
        CliTest.Run p = run("patch", "--entropy-model", run.resolve("checkpoint").toString(), "--text", "hello world", "--json");
        assertEquals(0, p.code(), p.err());
        assertTrue(p.out().contains(Float.toString((float) theta)), p.out());

        // interrupted while its entropy model trains (after that run's step 2), then resumed from the command line
        Path split = tmp.resolve("split");
        StopSignal stop = StopSignal.manual();
        BltTrainConfig config = BltTrainConfig.fromJson(Json.readTree(cfg), cfg.toString(), n -> n);
        Trainer.Result stopped = BltTrainer.start(config, data.toAbsolutePath().normalize().toString(),
                path -> ByteCorpus.open(CorpusSource.of(Path.of(path)), split.resolve("cache"), (d, b, f) -> {}),
                split, StopLog.atLine(stop, "step 2/"), stop).run();
        assertTrue(stopped.interrupted());
        assertFalse(Files.exists(split.resolve("checkpoint")));
        CliTest.Run r = run("train", "--resume", "--out", split.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("entropy model: resuming its training"), r.err());
        for (String f : new String[]{"model.safetensors", "optimizer.safetensors", "entropy_model/model.safetensors"})
            assertArrayEquals(Files.readAllBytes(run.resolve("checkpoint").resolve(f)), Files.readAllBytes(split.resolve("checkpoint").resolve(f)), f);

        // a finished run resumed: nothing left to do, the same model
        CliTest.Run again = run("train", "--resume", "--out", run.toString());
        assertEquals(0, again.code(), again.err());
        assertTrue(again.err().contains("entropies: reused"), again.err());
    }

    @Test
    void benchTrainOnABltConfig(@TempDir Path tmp) throws Exception {
        Path cfg = write(tmp, "blt.json", CONFIG);
        CliTest.Run b = run("bench", "train", "--config", cfg.toString(), "--steps", "2", "--warmup-steps", "0", "--patch-size", "4", "--json");
        assertEquals(0, b.code(), b.err());
        JsonNode j = Json.MAPPER.readTree(b.out());
        assertEquals("blt", j.get("model").asText());
        assertEquals(2, j.get("batch_size").asInt());        // the config's train section
        assertEquals(8, j.get("seq_len_patches").asInt());
        assertEquals(4, j.get("mean_patch_size").asDouble(), 1.0);
        assertTrue(j.get("bytes_per_s").asDouble() > 0 && j.get("mfu").asDouble() > 0, b.out());
        double perByte = j.get("train_flops_per_byte").asDouble();
        assertEquals(3 * dev.patchwork.eval.FlopAccounting.bltPerByte(dev.patchwork.model.BltConfig.fromJson(Json.MAPPER.readTree(MODEL), "m"),
                j.get("bytes_per_row").asDouble(), j.get("mean_patch_size").asDouble()), perByte, 1e-9 * perByte);
        assertOneLineError(run("bench", "train", "--config", cfg.toString(), "--seq-len", "99"), "max_seqlen");
    }

    static String config(String model, String patcher, String entropy, String train) throws Exception {
        ObjectNode root = Json.MAPPER.createObjectNode();
        if (model != null) root.set("model", Json.MAPPER.readTree(model));
        if (patcher != null) root.set("patcher", Json.MAPPER.readTree(patcher));
        if (entropy != null) root.set("entropy_model", Json.MAPPER.readTree(entropy));
        if (train != null) root.set("train", Json.MAPPER.readTree(train));
        return root.toString();
    }

    @Test
    void badBltConfigsGiveOneLineErrors(@TempDir Path tmp) throws Exception {
        Path data = corpus(tmp);
        String out = tmp.resolve("run").toString();
        String[][] cases = {
                {config(MODEL, "{\"patching_mode\": \"entropy\", \"threshold\": 2}", null, TRAIN), "needs an entropy model"},
                {config(MODEL, "{\"patching_mode\": \"space\"}", ENTROPY, TRAIN), "reads no entropies"},
                {config(MODEL, "{\"patching_mode\": \"sentence\"}", null, TRAIN), "patching_mode"},
                {config(MODEL, "{\"patching_mode\": \"space\", \"bogus\": 1}", null, TRAIN), "bogus"},
                {config(MODEL.replace("\"n_heads_global\": 2", "\"n_heads_global\": 3"), "{\"patching_mode\": \"space\"}", null, TRAIN), "n_heads_global"},
                {config(MODEL.replace("\"cross_attn_k\": 2", "\"cross_attn_k\": 0"), "{\"patching_mode\": \"space\"}", null, TRAIN), "cross_attn_k"},
                {config(MODEL.replace("\"seed\": 3", "\"seed\": 3, \"patching_threshold\": 1.0"), "{\"threshold\": 2.0}", "{\"checkpoint\": \"x\"}", TRAIN),
                        "patching_threshold"},
                {config(MODEL, "{\"patching_mode\": \"entropy\"}", "{\"checkpoint\": \"x\", \"model\": {\"dim\": 16}}", TRAIN), "exactly one of"},
                {config(MODEL, "{\"patching_mode\": \"entropy\"}", "{\"checkpoint\": \"" + tmp.resolve("none") + "\"}", TRAIN), "not a directory"},
                {config(MODEL, "{\"patching_mode\": \"entropy\"}", "{\"model\": {\"dim\": 16, \"n_heads\": 2}, \"train\": {\"eval_fraction\": 0.3}}", TRAIN),
                        "eval_fraction"},
                {config(MODEL, "{\"patching_mode\": \"space\"}", null, TRAIN.replace("\"seq_len\": 8", "\"seq_len\": 40")), "max_seqlen"},
                {config(MODEL, "{\"patching_mode\": \"space\"}", null, TRAIN.replace("\"seq_len\": 8", "\"seq_len\": 1000")), "max_seqlen"},
                {config(MODEL, "{\"patching_mode\": \"space\"}", null, TRAIN) .replace("\"train\"", "\"training\""), "unknown top-level field"},
                {config(MODEL, "{\"target_patch_size\": 4, \"threshold\": 2}", ENTROPY, TRAIN), "remove patcher.threshold"},
                {config(MODEL, "{\"target_patch_size\": 4, \"patching_mode\": \"space\"}", null, TRAIN), "target_patch_size"},
                {config(MODEL, "{\"target_patch_size\": 0.5}", ENTROPY, TRAIN), "target_patch_size must be a number > 1"},
        };
        for (String[] c : cases) {
            Path cfg = write(tmp, "bad.json", c[0]);
            assertOneLineError(run("train", "--config", cfg.toString(), "--data", data.toString(), "--out", out), c[1]);
            assertFalse(Files.exists(tmp.resolve("run").resolve("checkpoint")), "no run is left behind: " + c[1]);
        }
        // a corpus too small for one sequence of seq_len patches
        Path tiny = write(tmp, "tiny.txt", "a b c");
        assertOneLineError(run("train", "--config", write(tmp, "ok.json", config(MODEL, "{\"patching_mode\": \"space\"}", null, TRAIN)).toString(),
                "--data", tiny.toString(), "--out", tmp.resolve("small").toString()), "seq_len");
    }
}

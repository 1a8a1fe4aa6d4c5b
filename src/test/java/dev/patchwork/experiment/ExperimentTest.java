package dev.patchwork.experiment;

import com.fasterxml.jackson.databind.JsonNode;
import dev.patchwork.data.CorpusCache;
import dev.patchwork.data.CorpusSource;
import dev.patchwork.train.StopSignal;
import dev.patchwork.util.Json;
import dev.patchwork.util.PatchworkException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** A tiny experiment end to end (two models, seconds), resuming, skipping finished models, and bad configs refused. */
class ExperimentTest {
    static final String BYTE_LM = "{\"dim\": 16, \"n_layers\": 1, \"n_heads\": 2, \"multiple_of\": 16, \"max_seqlen\": 16}";
    static final String BLT = "{\"dim_global\": 32, \"n_layers_global\": 1, \"n_heads_global\": 2,"
            + " \"dim_local_encoder\": 16, \"n_layers_local_encoder\": 1, \"n_heads_local_encoder\": 2,"
            + " \"dim_local_decoder\": 16, \"n_layers_local_decoder\": 1, \"n_heads_local_decoder\": 2,"
            + " \"cross_attn_k\": 2, \"cross_attn_nheads\": 2, \"cross_attn_all_layers_decoder\": true,"
            + " \"encoder_hash_byte_group_size\": [3, 4], \"encoder_hash_byte_group_nb_functions\": 1,"
            + " \"encoder_hash_byte_group_vocab\": 64, \"local_attention_window_len\": 32, \"max_seqlen\": 16,"
            + " \"max_encoder_seq_length\": 256, \"multiple_of\": 16, \"seed\": 3}";

    static String config(String budget, String models) {
        return "{\"train_flops\": " + budget + ", \"seed\": 5, \"held_out_fraction\": 0.2, \"eval_max_bytes\": 600,"
                + " \"noise\": [\"uppercase\", \"drop\"],"
                + " \"train\": {\"batch_size\": 4, \"lr\": 0.01, \"warmup\": 2, \"eval_batches\": 2, \"log_every\": 1},"
                + " \"models\": [" + models + "]}";
    }

    static final String TWO_MODELS = "{\"name\": \"bytes\", \"kind\": \"byte_lm\", \"config\": " + BYTE_LM + "},"
            + " {\"name\": \"blt-static\", \"kind\": \"blt\", \"patching\": \"static\", \"patch_size\": 4, \"config\": " + BLT
            + ", \"train\": {\"batch_size\": 2, \"seq_len\": 8}}";

    static final String MEGABYTE = "{\"patch_size\": 4, \"global_dim\": 8, \"global_layers\": 1, \"global_heads\": 2,"
            + " \"local_dim\": 16, \"local_layers\": 1, \"local_heads\": 2, \"multiple_of\": 16, \"max_seqlen\": 16}";

    /** MEGABYTE and the BPE baseline through the same path: the BPE budget is re-planned with the measured bytes/token. */
    @Test
    void megabyteAndBpeBaselineRunWithMatchedBudgets(@TempDir Path tmp) throws Exception {
        Path data = tmp.resolve("data.txt");
        Files.writeString(data, "To be, or not to be, that is the question: whether 'tis nobler in the mind. ".repeat(40));
        String models = "{\"name\": \"mb\", \"kind\": \"megabyte\", \"config\": " + MEGABYTE + "},"
                + " {\"name\": \"bpe\", \"kind\": \"bpe_lm\", \"vocab\": 300, \"bytes_per_token\": 2, \"config\": " + BYTE_LM + "}";
        Experiment e = Experiment.plan(parse(config("3e7", models), tmp));
        Path out = tmp.resolve("exp");
        String log = run(e, data, out, StopSignal.manual());
        JsonNode mb = Json.readTree(out.resolve("mb/result.json"));
        JsonNode bpe = Json.readTree(out.resolve("bpe/result.json"));
        for (JsonNode r : List.of(mb, bpe)) {
            double bpb = r.get("bits_per_byte").asDouble();
            assertTrue(bpb > 0 && bpb < 9, "bpb " + bpb);
            assertTrue(r.get("train_flops").asDouble() <= 3e7, log);
        }
        assertEquals(4.0, mb.get("mean_patch_size").asDouble(), "MEGABYTE's patches are its fixed size");
        assertTrue(Files.isRegularFile(out.resolve("bpe/tokenizer.json")), log);
        // the tokenizer's measured bytes per token (the text repeats, so far above the estimate of 2) set the steps
        double bytesPerStep = bpe.get("bytes_per_step").asDouble();
        assertTrue(bytesPerStep > 4 * 16 * 2, "bytes per step " + bytesPerStep + " from measured bytes/token");
        assertEquals((long) Math.floor(3e7 / (bytesPerStep * bpe.get("train_flops_per_byte").asDouble())), bpe.get("steps").asLong());
        assertTrue(Files.readString(out.resolve("report.md")).contains("| bpe | bpe_lm |"));
    }

    private static ExperimentConfig parse(String json, Path base) throws Exception {
        return ExperimentConfig.fromJson(Json.MAPPER.readTree(json), "test.json", base);
    }

    private static String run(Experiment e, Path data, Path out, StopSignal stop) throws Exception {
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        e.run(CorpusSource.of(data), out, new PrintStream(log, true, StandardCharsets.UTF_8), stop, CorpusCache.Progress.NONE);
        return log.toString(StandardCharsets.UTF_8);
    }

    @Test
    void tinyExperimentEndToEndThenSkippedAndResumed(@TempDir Path tmp) throws Exception {
        Path data = tmp.resolve("data.txt");
        Files.writeString(data, "To be, or not to be, that is the question: whether 'tis nobler in the mind. ".repeat(40));
        Experiment e = Experiment.plan(parse(config("3e7", TWO_MODELS), tmp));
        for (Experiment.Planned p : e.planned()) {
            double perStep = p.model().bytesPerStep() * p.model().trainFlopsPerByte();
            assertEquals((long) Math.floor(3e7 / perStep), p.steps(), p.spec().name() + ": steps = floor(budget / FLOPs per step)");
            assertTrue(p.trainFlops() <= 3e7 && p.trainFlops() > 3e7 - perStep, p.spec().name());
            assertTrue(p.steps() >= 2 && p.steps() < 40, p.spec().name() + " steps " + p.steps());
        }
        // byte LM: dim 16, 1 layer, 16 bytes of context: TF = 24·16² + 2·16·17 + 2·16·256 = 14,880 FLOPs/byte forward
        assertEquals(3 * 14_880.0, e.planned().get(0).model().trainFlopsPerByte(), 1e-9);
        assertEquals(64.0, e.planned().get(0).model().bytesPerStep());
        assertEquals(64.0, e.planned().get(1).model().bytesPerStep(), "2 rows x 8 patches x 4 bytes");

        Path out = tmp.resolve("exp");
        String log = run(e, data, out, StopSignal.manual());
        for (String f : List.of("report.md", ExperimentReport.CURVE_PNG, "patch_sizes_blt-static.png", "bytes/result.json",
                "blt-static/result.json", "heldout/clean", "heldout/uppercase", "heldout/drop"))
            assertTrue(Files.exists(out.resolve(f)), f + " in\n" + log);
        String report = Files.readString(out.resolve("report.md"));
        assertTrue(report.contains("| bytes | byte_lm |") && report.contains("| blt-static | blt |") && report.contains("## Robustness"), report);
        JsonNode blt = Json.readTree(out.resolve("blt-static/result.json"));
        assertEquals(4.0, blt.get("mean_patch_size").asDouble(), 0.6, "static patches of 4 (BOS/EOS and document ends make some shorter)");
        assertTrue(blt.get("patch_length_counts").get(4).asLong() > 0);
        JsonNode lm = Json.readTree(out.resolve("bytes/result.json"));
        assertEquals(600, lm.get("held_out_bytes").asLong());
        double bpb = lm.get("bits_per_byte").asDouble();
        assertTrue(bpb > 0 && bpb < 8.5, "bpb " + bpb);
        assertTrue(lm.get("mean_patch_size").isNull() && lm.get("patch_length_counts").isNull());
        assertNotEquals(bpb, lm.get("noised_bits_per_byte").get("uppercase").asDouble());
        assertTrue(log.contains("experiment [2/2] blt-static"), log);

        // everything finished: a second run trains nothing and rewrites the same report
        String again = run(Experiment.plan(parse(config("3e7", TWO_MODELS), tmp)), data, out, StopSignal.manual());
        assertTrue(again.contains("experiment [1/2] bytes: finished earlier, skipped"), again);
        assertTrue(again.contains("experiment [2/2] blt-static: finished earlier, skipped"), again);
        assertFalse(again.contains("step 1/"), again);
        assertEquals(report, Files.readString(out.resolve("report.md")));

        // another config in the same directory is refused
        PatchworkException other = assertThrows(PatchworkException.class,
                () -> run(Experiment.plan(parse(config("4e7", TWO_MODELS), tmp)), data, out, StopSignal.manual()));
        assertTrue(other.getMessage().contains("holds an experiment with another config"), other.getMessage());

        // an interrupted model is resumed from its checkpoint by the next run
        Path out2 = tmp.resolve("exp2");
        StopSignal stop = StopSignal.manual();
        stop.request();
        String stopped = run(Experiment.plan(parse(config("3e7", TWO_MODELS), tmp)), data, out2, stop);
        assertTrue(stopped.contains("bytes: stopped"), stopped);
        assertFalse(Files.exists(out2.resolve("bytes/result.json")));
        String resumed = run(Experiment.plan(parse(config("3e7", TWO_MODELS), tmp)), data, out2, StopSignal.manual());
        assertTrue(resumed.contains("resuming at step 1 of"), resumed);
        assertEquals(lm.get("bits_per_byte").asDouble(), Json.readTree(out2.resolve("bytes/result.json")).get("bits_per_byte").asDouble(),
                1e-9, "a resumed run ends where an uninterrupted one does");
    }

    @Test
    void exampleConfigsPlanWithinTheirBudget() {
        for (String name : List.of("shakespeare", "java-sources")) {
            Experiment e = Experiment.plan(ExperimentConfig.load(Path.of("experiments", name + ".json")));
            assertEquals(List.of("byte-lm", "bpe-lm", "megabyte", "blt-static", "blt-space", "blt-entropy"), e.planned().stream().map(p -> p.spec().name()).toList());
            assertEquals(5, e.config().noises().size());
            for (Experiment.Planned p : e.planned()) {
                assertTrue(p.steps() >= 100, name + "/" + p.spec().name() + ": " + p.steps() + " steps");
                assertTrue(p.trainFlops() <= e.config().trainFlops(), name + "/" + p.spec().name());
            }
        }
    }

    @Test
    void badConfigsAreRefused(@TempDir Path tmp) {
        assertRefused(tmp, config("3e7", "{\"name\": \"x\", \"kind\": \"transformer\", \"config\": " + BYTE_LM + "}"),
                "unknown model kind 'transformer' (available: byte_lm, blt, megabyte, bpe_lm)");
        assertRefused(tmp, config("3e7", "{\"name\": \"x\", \"kind\": \"megabyte\", \"config\": " + BYTE_LM + "}"), "unknown");
        assertRefused(tmp, config("3e7", "{\"name\": \"x\", \"kind\": \"bpe_lm\", \"vocab\": 100, \"config\": " + BYTE_LM + "}"),
                "vocab must be in (256, 1048576]");
        assertRefused(tmp, config("3e7", "{\"name\": \"x\", \"kind\": \"megabyte\", \"patch_size\": 4, \"config\": " + MEGABYTE + "}"),
                "unknown field 'patch_size' for kind megabyte");
        assertRefused(tmp, config("1e5", TWO_MODELS), "is smaller than one training step");
        assertRefused(tmp, config("3e7", "{\"name\": \"x\", \"kind\": \"byte_lm\", \"config\": " + BYTE_LM + ", \"train\": {\"steps\": 5}}"),
                "remove \"steps\"");
        assertRefused(tmp, config("3e7", "{\"name\": \"x\", \"kind\": \"byte_lm\", \"config\": " + BYTE_LM + "}, {\"name\": \"x\", \"kind\": \"byte_lm\", \"config\": " + BYTE_LM + "}"),
                "the name 'x' is used twice");
        assertRefused(tmp, config("3e7", "{\"name\": \"b\", \"kind\": \"blt\", \"patch_size\": 4, \"config\": " + BLT + "}"),
                "a blt needs \"patching\"");
        assertRefused(tmp, config("3e7", "{\"name\": \"b\", \"kind\": \"blt\", \"patching\": \"static\", \"patch_size\": 4.5, \"config\": " + BLT + "}"),
                "static patching needs a whole patch_size");
        assertRefused(tmp, config("3e7", "{\"name\": \"b\", \"kind\": \"blt\", \"patching\": \"entropy\", \"patch_size\": 4, \"config\": " + BLT + "}"),
                "needs an entropy model");
        assertRefused(tmp, config("3e7", "{\"name\": \"x\", \"kind\": \"byte_lm\", \"patching\": \"static\", \"config\": " + BYTE_LM + "}"),
                "unknown field 'patching' for kind byte_lm");
        assertRefused(tmp, config("3e7", "{\"name\": \"x\", \"kind\": \"byte_lm\", \"config\": \"missing.json\"}"), "not found");
        assertRefused(tmp, "{\"models\": []}", "\"train_flops\" must be a number > 0");
        assertRefused(tmp, config("3e7", TWO_MODELS).replace("\"drop\"", "\"shout\""), "unknown noise 'shout'");
    }

    private static void assertRefused(Path tmp, String json, String expected) {
        PatchworkException e = assertThrows(PatchworkException.class, () -> Experiment.plan(parse(json, tmp)), json);
        assertTrue(e.getMessage().contains(expected), "'" + e.getMessage() + "' should contain '" + expected + "'");
        assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
    }
}

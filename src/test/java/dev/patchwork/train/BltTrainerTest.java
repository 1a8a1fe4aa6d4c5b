package dev.patchwork.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.patchwork.data.BltBatch;
import dev.patchwork.data.ByteCorpus;
import dev.patchwork.data.CorpusSource;
import dev.patchwork.data.CorpusSplit;
import dev.patchwork.data.PackedSequence;
import dev.patchwork.data.PatchWindows;
import dev.patchwork.patch.CorpusPatches;
import dev.patchwork.patch.PatcherConfig;
import dev.patchwork.util.Json;
import dev.patchwork.util.PatchworkException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** BLT batches from a patched corpus, and BLT training with a bit-identical resume. */
class BltTrainerTest {
    /** A tiny BLT: global 32 × 1, local 16 (1 encoder and 1 decoder layer), k 2, hash n-grams 3 and 4. */
    static final String MODEL = "{\"dim_global\": 32, \"n_layers_global\": 1, \"n_heads_global\": 2,"
            + " \"dim_local_encoder\": 16, \"n_layers_local_encoder\": 1, \"n_heads_local_encoder\": 2,"
            + " \"dim_local_decoder\": 16, \"n_layers_local_decoder\": 1, \"n_heads_local_decoder\": 2,"
            + " \"cross_attn_k\": 2, \"cross_attn_nheads\": 2, \"cross_attn_all_layers_decoder\": true,"
            + " \"encoder_hash_byte_group_size\": [3, 4], \"encoder_hash_byte_group_nb_functions\": 1,"
            + " \"encoder_hash_byte_group_vocab\": 64, \"local_attention_window_len\": 32, \"max_seqlen\": 16,"
            + " \"max_encoder_seq_length\": 256, \"multiple_of\": 16, \"seed\": 3}";
    static final String TRAIN = "{\"steps\": 8, \"batch_size\": 3, \"seq_len\": 6, \"lr\": 0.01, \"warmup\": 2,"
            + " \"eval_every\": 4, \"eval_batches\": 2, \"checkpoint_every\": 100, \"log_every\": 1, \"seed\": 11, \"eval_fraction\": 0.2}";
    static final PrintStream QUIET = new PrintStream(OutputStream.nullOutputStream());

    static BltTrainConfig spaceConfig() {
        JsonNode root = Json.MAPPER.createObjectNode()
                .<ObjectNode>set("model", tree(MODEL))
                .<ObjectNode>set("patcher", Json.MAPPER.createObjectNode().put("patching_mode", "space"))
                .set("train", tree(TRAIN));
        return BltTrainConfig.fromJson(root, "test", n -> n);
    }

    static JsonNode tree(String json) {
        return BltTrainConfig.tree(json);
    }

    static Path corpus(Path dir) throws Exception {
        Path d = Files.createDirectories(dir.resolve("docs"));
        for (int f = 0; f < 6; f++) {
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < 25; i++) sb.append("doc ").append(f).append(" line ").append(i).append(": the quick brown fox\n");
            Files.writeString(d.resolve("f" + f + ".txt"), sb);
        }
        return d;
    }

    static ByteCorpus open(Path data, Path cache) {
        return ByteCorpus.open(CorpusSource.of(data), cache, (d, b, f) -> {});
    }

    @Test
    void batchesArePackedPatchSequencesDrawnFromTheStep(@TempDir Path tmp) throws Exception {
        ByteCorpus corpus = open(corpus(tmp), tmp.resolve("cache"));
        CorpusPatches patches = CorpusPatches.open(corpus, PatcherConfig.fromJson(Json.MAPPER.createObjectNode()
                .put("patching_mode", "space"), "test").build(), null, tmp.resolve("patches.bin"), CorpusPatches.Progress.NONE, () -> false);
        assertTrue(patches.rebuilt());
        CorpusSplit split = corpus.split(0.2);
        BltBatcher batcher = new BltBatcher(corpus, patches, split, 11, 6, 256);
        assertTrue(patches.start(batcher.trainPatches()) <= split.trainEnd() && patches.start(batcher.trainPatches() + 1) > split.trainEnd());

        assertArrayEquals(batcher.sequenceStarts(5, 4), batcher.sequenceStarts(5, 4), "a pure function of the step");
        assertFalse(Arrays.equals(batcher.sequenceStarts(5, 4), batcher.sequenceStarts(6, 4)));
        BltBatch b1 = batcher.batch(5, 4), b2 = batcher.batch(5, 4);
        assertArrayEquals(b1.x(), b2.x());
        assertArrayEquals(b1.y(), b2.y());
        for (int step = 0; step < 50; step++) {
            for (long p : batcher.sequenceStarts(step, 4)) {
                assertTrue(p >= 0 && p + 6 <= batcher.trainPatches(), "a training sequence stays in the training split");
                PackedSequence s = batcher.sequence(p);
                assertEquals(1, s.lengths()[0], "first patch holds one byte");
                assertEquals(s.x().length + 1, Arrays.stream(s.lengths()).sum(), "lengths cover x and the last target");
                assertEquals(6, s.lengths().length, "seq_len patches");
                assertArrayEquals(corpus.ids(patches.start(p), s.x().length), s.x(), "x = toks[:-1]");
                assertArrayEquals(corpus.ids(patches.start(p) + 1, s.x().length), s.y(), "y = toks[1:]");
            }
        }
        // the held-out windows score every held-out target once, from the first patch after the split point
        long first = patches.firstAtOrAfter(split.trainEnd()), next = patches.start(first), windows = 0;
        PatchWindows w = batcher.heldOut();
        while (w.hasNext()) {
            PatchWindows.Window win = w.next();
            assertEquals(next, win.firstTarget());
            assertTrue(win.lengths().length <= 6);
            PackedSequence s = batcher.window(win);
            assertArrayEquals(corpus.ids(win.firstTarget(), win.size()), s.y());
            next += win.size();
            windows++;
        }
        assertEquals(corpus.tokens(), next);
        assertTrue(windows > 3);

        // reopened: the same file is reused
        CorpusPatches again = CorpusPatches.open(corpus, PatcherConfig.fromJson(Json.MAPPER.createObjectNode()
                .put("patching_mode", "space"), "test").build(), null, tmp.resolve("patches.bin"), CorpusPatches.Progress.NONE, () -> false);
        assertFalse(again.rebuilt());
        assertEquals(patches.count(), again.count());
        CorpusPatches other = CorpusPatches.open(corpus, PatcherConfig.fromJson(Json.MAPPER.createObjectNode()
                .put("patching_mode", "static").put("patch_size", 4), "test").build(), null, tmp.resolve("patches.bin"), CorpusPatches.Progress.NONE, () -> false);
        assertTrue(other.rebuilt(), "another patcher rebuilds");
        assertEquals(corpus.tokens() / 4.0, other.count(), corpus.documents()); // one short patch per document at most
    }

    @Test
    void aResumedRunIsBitIdenticalToAnUninterruptedOne(@TempDir Path tmp) throws Exception {
        Path data = corpus(tmp);
        Path full = tmp.resolve("full"), split = tmp.resolve("split");
        BltTrainConfig config = spaceConfig();
        ByteLmTrainer.ByteLmCorpusOpener fullOpener = p -> open(Path.of(p), full.resolve("cache"));
        Trainer.Result a = BltTrainer.start(config, data.toString(), fullOpener, full, QUIET, StopSignal.manual()).run();
        assertEquals(8, a.steps());
        assertFalse(a.interrupted());
        assertTrue(Double.isFinite(a.evalLoss()));
        assertTrue(a.trainLoss() < Math.log(260), "it learns: " + a.trainLoss());

        StopSignal stop = StopSignal.manual();
        ByteLmTrainer.ByteLmCorpusOpener splitOpener = p -> open(Path.of(p), split.resolve("cache"));
        Trainer.Result b1 = BltTrainer.start(config, data.toString(), splitOpener, split, StopLog.afterStep(stop, 3), stop).run();
        assertTrue(b1.interrupted());
        assertEquals(3, b1.steps());
        assertTrue(BltTrainer.isBltRun(split));
        Trainer.Result b2 = BltTrainer.resume(splitOpener, split, QUIET, StopSignal.manual()).run();
        assertEquals(8, b2.steps());

        for (String f : List.of("model.safetensors", "optimizer.safetensors", "config.json"))
            assertArrayEquals(Files.readAllBytes(full.resolve("checkpoint").resolve(f)), Files.readAllBytes(split.resolve("checkpoint").resolve(f)), f);
        ObjectNode argsFull = (ObjectNode) Json.readTree(full.resolve("checkpoint/train_args.json"));
        ObjectNode argsSplit = (ObjectNode) Json.readTree(split.resolve("checkpoint/train_args.json"));
        assertEquals("split", argsSplit.remove("name").asText());
        argsFull.remove("name");
        assertEquals(argsFull, argsSplit);
        List<String> la = Files.readAllLines(full.resolve("metrics.jsonl")), lb = Files.readAllLines(split.resolve("metrics.jsonl"));
        assertEquals(la.size(), lb.size());
        for (int i = 0; i < la.size(); i++)
            assertEquals(la.get(i).replaceAll(",\"bytes_per_s.*", ""), lb.get(i).replaceAll(",\"bytes_per_s.*", ""));
        assertTrue(Files.exists(split.resolve("loss.png")));
        JsonNode trainArgs = Json.readTree(split.resolve("checkpoint/train_args.json"));
        assertEquals("space", trainArgs.at("/data/patcher_args/patching_mode").asText());
        assertEquals("space", Json.readTree(split.resolve("checkpoint/config.json")).at("/args/patching_mode").asText());
        assertFalse(Files.exists(split.resolve("checkpoint/entropy_model")), "space patching needs no entropy model");

        var e = assertThrows(PatchworkException.class, () -> BltTrainer.start(config, data.toString(), splitOpener, split, QUIET, StopSignal.manual()));
        assertTrue(e.getMessage().contains("--resume"), e.getMessage());
    }
}

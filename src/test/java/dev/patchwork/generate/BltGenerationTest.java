package dev.patchwork.generate;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.patchwork.model.Blt;
import dev.patchwork.patch.EntropyModel;
import dev.patchwork.patch.Patcher;
import dev.patchwork.patch.PatcherConfig;
import dev.patchwork.util.Json;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * BLT generation: both generators reproduce the reference's {@code generate_nocache} on its tiny BLT (ids, patches per
 * step, first logits), and the incremental generator gives the no-cache generator's logits (1e-4) and ids at every
 * step on random BLTs: greedy and sampled, EOS inside the prompt, prompts longer than the local window, entropy chunks
 * shorter than the context, every incremental patching rule, and a context that outgrows the model.
 */
class BltGenerationTest {
    static final double LOGIT_TOL = 1e-4;
    static JsonNode golden;
    static Blt reference;
    static EntropyModel referenceEntropy;
    static Patcher referencePatcher;

    @BeforeAll
    static void load() throws Exception {
        golden = Json.MAPPER.readTree(BltFixtures.referenceTiny().resolve("generation_golden.json").toFile());
        reference = BltFixtures.referenceBlt();
        referenceEntropy = BltFixtures.referenceEntropyModel();
        referencePatcher = PatcherConfig.entropy(golden.get("threshold").doubleValue()).build();
    }

    /** Every step's id, logits and patches. */
    record Trace(List<BltGeneration.Step> steps, BltGeneration.Result result) {
        int[] ids() {
            return result.ids();
        }
    }

    static Trace run(BltGeneration g, byte[] prompt, BltGeneration.Settings settings) {
        List<BltGeneration.Step> steps = new ArrayList<>();
        var result = g.generate(prompt, settings, s -> {
            steps.add(new BltGeneration.Step(s.index(), s.id(), s.logits().clone(), s.patches(), s.lastPatchLength(), s.contextIds()));
            return true;
        });
        return new Trace(steps, result);
    }

    @ParameterizedTest
    @ValueSource(strings = {"greedy_generation", "greedy_generation_utf8_prompt"})
    void bothGeneratorsReproduceTheReferenceGreedyGeneration(String name) {
        JsonNode c = golden.get(name);
        byte[] prompt = c.get("prompt").textValue().getBytes(StandardCharsets.UTF_8);
        int[] promptIds = Json.MAPPER.convertValue(c.get("prompt_ids"), int[].class);
        assertArrayEquals(promptIds, BltGeneration.promptIds(prompt, 256));
        int[] want = Json.MAPPER.convertValue(c.get("generated_ids"), int[].class);
        float[] firstLogits = Json.MAPPER.convertValue(c.get("first_step_last_position_logits"), float[].class);
        var settings = BltGeneration.Settings.reference(c.get("max_gen_len").intValue());
        for (BltGeneration g : new BltGeneration[]{new BltNoCacheGenerator(reference, referenceEntropy, referencePatcher),
                new BltGenerator(reference, referenceEntropy, referencePatcher)}) {
            String what = g.getClass().getSimpleName() + " " + name;
            Trace t = run(g, prompt, settings);
            assertArrayEquals(want, t.ids(), what);
            assertEquals(ByteLmGenerator.Stop.MAX_BYTES, t.result().reason(), what);
            for (int v = 0; v < firstLogits.length; v++)
                assertEquals(firstLogits[v], t.steps().get(0).logits()[v], LOGIT_TOL, what + " first logits, id " + v);
            List<Integer> emptyLast = new ArrayList<>();
            for (int i = 0; i < want.length; i++) {
                JsonNode s = c.get("steps").get(i);
                BltGeneration.Step step = t.steps().get(i);
                assertEquals(s.get("num_patches").intValue(), step.patches(), what + " step " + i + " patches");
                assertEquals(s.get("last_patch_length").intValue(), step.lastPatchLength(), what + " step " + i + " last patch");
                for (float l : step.logits()) assertTrue(Float.isFinite(l), what + " step " + i + " logit " + l);
                if (step.lastPatchLength() == 1) emptyLast.add(i);
            }
            // the steps whose last patch holds only the virtual byte (fully masked cross-attention rows, no NaN)
            assertEquals(Json.MAPPER.convertValue(c.get("steps_with_empty_last_patch"), List.class), emptyLast, what);
        }
    }

    static Trace run(BltGeneration g, int[] promptIds, BltGeneration.Settings settings) {
        List<BltGeneration.Step> steps = new ArrayList<>();
        var result = g.generate(promptIds, settings, s -> {
            steps.add(new BltGeneration.Step(s.index(), s.id(), s.logits().clone(), s.patches(), s.lastPatchLength(), s.contextIds()));
            return true;
        });
        return new Trace(steps, result);
    }

    static Trace assertSameAsNoCache(Blt model, EntropyModel entropy, Patcher patcher, byte[] prompt, BltGeneration.Settings s) {
        return assertSameAsNoCache(model, entropy, patcher, BltGeneration.promptIds(prompt, s.maxPromptIds()), s);
    }

    /** Generates with both generators and checks they agree step by step; returns the incremental trace. */
    static Trace assertSameAsNoCache(Blt model, EntropyModel entropy, Patcher patcher, int[] prompt, BltGeneration.Settings s) {
        Trace slow = run(new BltNoCacheGenerator(model, entropy, patcher), prompt, s);
        Trace fast = run(new BltGenerator(model, entropy, patcher), prompt, s);
        String what = patcher.describe() + ", prompt of " + prompt.length + " bytes";
        assertEquals(slow.steps().size(), fast.steps().size(), what + ": steps");
        for (int i = 0; i < slow.steps().size(); i++) {
            var a = slow.steps().get(i);
            var b = fast.steps().get(i);
            assertEquals(a.contextIds(), b.contextIds(), what + " step " + i + " context");
            assertEquals(a.patches(), b.patches(), what + " step " + i + " patches");
            assertEquals(a.lastPatchLength(), b.lastPatchLength(), what + " step " + i + " last patch length");
            for (int v = 0; v < a.logits().length; v++)
                assertEquals(a.logits()[v], b.logits()[v], LOGIT_TOL, what + " step " + i + " logit " + v);
            assertEquals(a.id(), b.id(), what + " step " + i + " id");
        }
        assertArrayEquals(slow.ids(), fast.ids(), what);
        assertArrayEquals(slow.result().bytes(), fast.result().bytes(), what);
        assertEquals(slow.result().reason(), fast.result().reason(), what);
        return fast;
    }

    static byte[] text(int n) {
        String base = "The quick brown fox jumps over the lazy dog; Привет, мир! 12345 {\"k\": [1, 2]} ";
        byte[] b = base.repeat(n / base.length() + 1).getBytes(StandardCharsets.UTF_8);
        return Arrays.copyOf(b, n);
    }

    static Patcher threshold(EntropyModel m, double quantile) {
        int[] ids = BltGeneration.promptIds(text(300), 1000);
        return PatcherConfig.entropy(BltFixtures.entropyQuantile(m, ids, quantile)).build();
    }

    @Test
    void incrementalGreedyEqualsNoCacheOnARandomBlt() {
        Blt model = BltFixtures.randomBlt(BltFixtures.tinyBltConfig(12, 1024, 256), 5);
        EntropyModel entropy = BltFixtures.randomEntropyModel(10, 64, 6); // chunks of 64 ids: the entropy context restarts
        Patcher patcher = threshold(entropy, 0.7);
        var settings = new BltGeneration.Settings(200, false, SamplingOptions.greedy(), 256);
        Trace t = assertSameAsNoCache(model, entropy, patcher, text(30), settings);
        assertEquals(200, t.ids().length);
        var stats = t.result().stats();
        // the global model ran once per closed patch, prompt and generated bytes together
        assertEquals(stats.contextPatches() - 1, stats.promptGlobalSteps() + stats.globalSteps());
        assertTrue(stats.meanPatchSize() > 2, "mean patch size " + stats.meanPatchSize());
        assertTrue(stats.globalStepsPerByte() < 0.6, "global steps per byte " + stats.globalStepsPerByte());
    }

    @Test
    void incrementalSamplingEqualsNoCacheWithEosInsideAndAPromptLongerThanTheWindow() {
        Blt model = BltFixtures.randomBlt(BltFixtures.tinyBltConfig(8, 1024, 256), 7);
        EntropyModel entropy = BltFixtures.randomEntropyModel(12, 8192, 8);
        Patcher patcher = threshold(entropy, 0.6);
        byte[] prompt = text(40);
        prompt[17] = -2; // byte 0xFE: a lone UTF-8 lead byte
        var sampled = new BltGeneration.Settings(200, false, new SamplingOptions(0.9, 0, 1, 42), 256);
        assertSameAsNoCache(model, entropy, patcher, prompt, sampled);
        var topP = new BltGeneration.Settings(120, false, new SamplingOptions(1.2, 40, 0.9, 3), 256);
        assertSameAsNoCache(model, entropy, patcher, prompt, topP);
    }

    @Test
    void eosInTheContextCutsTheLocalAndGlobalAttentionTheSameWay() {
        Blt model = BltFixtures.randomBlt(BltFixtures.tinyBltConfig(16, 1024, 256), 9);
        EntropyModel entropy = BltFixtures.randomEntropyModel(16, 8192, 10);
        Patcher patcher = threshold(entropy, 0.5);
        // a prompt is bytes, so EOS enters the context as a generated id: make it likely, and check it did happen
        var settings = new BltGeneration.Settings(200, false, SamplingOptions.greedy(), 256);
        BltFixtures.makeEosLikely(model, new BltGenerator(model, entropy, patcher), text(20), settings);
        Trace t = assertSameAsNoCache(model, entropy, patcher, text(20), settings);
        long eos = Arrays.stream(t.ids()).limit(150).filter(id -> id == 2).count();
        assertTrue(eos > 1, eos + " EOS generated: the test does not cover EOS segments");
    }

    @Test
    void aPromptOfSeveralDocumentsEqualsNoCache() {
        Blt model = BltFixtures.randomBlt(BltFixtures.tinyBltConfig(12, 1024, 256), 23);
        EntropyModel entropy = BltFixtures.randomEntropyModel(12, 8192, 24);
        Patcher patcher = threshold(entropy, 0.6);
        // BOS doc EOS BOS doc EOS BOS doc: the local attention and the global model's blocks restart after each EOS
        int[] a = BltGeneration.promptIds(text(30), 256), b = BltGeneration.promptIds("second document".getBytes(StandardCharsets.UTF_8), 256);
        int[] prompt = new int[2 * a.length + b.length + 2];
        System.arraycopy(a, 0, prompt, 0, a.length);
        prompt[a.length] = 2;
        System.arraycopy(b, 0, prompt, a.length + 1, b.length);
        prompt[a.length + 1 + b.length] = 2;
        System.arraycopy(a, 0, prompt, a.length + b.length + 2, a.length);
        assertSameAsNoCache(model, entropy, patcher, prompt, new BltGeneration.Settings(60, false, SamplingOptions.greedy(), 256));
        var empty = assertThrows(IllegalArgumentException.class,
                () -> new BltGenerator(model, entropy, patcher).generate(new int[0], BltGeneration.Settings.reference(2), BltGeneration.Listener.NONE));
        assertTrue(empty.getMessage().contains("no ids"), empty.getMessage());
    }

    @Test
    void everyIncrementalPatchingRuleEqualsNoCache() {
        Blt model = BltFixtures.randomBlt(BltFixtures.tinyBltConfig(12, 1024, 256), 13);
        EntropyModel entropy = BltFixtures.randomEntropyModel(12, 8192, 14);
        int[] ids = BltGeneration.promptIds(text(300), 1000);
        double median = BltFixtures.entropyQuantile(entropy, ids, 0.5);
        float[] h = entropy.entropies(ids);
        float[] rises = new float[h.length - 1];
        for (int i = 1; i < h.length; i++) rises[i - 1] = h[i] - h[i - 1];
        Arrays.sort(rises);
        double rise = rises[(int) (0.7 * rises.length)];
        var settings = new BltGeneration.Settings(80, false, SamplingOptions.greedy(), 256);
        List<PatcherConfig> configs = List.of(
                new PatcherConfig(PatcherConfig.Mode.ENTROPY, median, null, false, 3, 4.5),
                new PatcherConfig(PatcherConfig.Mode.ENTROPY, rise, null, true, null, 4.5),
                new PatcherConfig(PatcherConfig.Mode.ENTROPY, median, rise / 2, false, 6, 4.5),
                new PatcherConfig(PatcherConfig.Mode.SPACE, null, null, false, null, 4.5),
                new PatcherConfig(PatcherConfig.Mode.BYTE, null, null, false, null, 4.5));
        for (PatcherConfig c : configs) {
            Trace t = assertSameAsNoCache(model, c.build().usesEntropies() ? entropy : null, c.build(), text(25), settings);
            if (c.patchingMode() == PatcherConfig.Mode.BYTE)
                assertEquals(t.result().stats().globalSteps(), t.ids().length - 1, "byte patching: one global step per byte");
        }
    }

    @Test
    void aContextThatOutgrowsTheModelLosesItsFirstHalfInBothGenerators() {
        // 48 bytes of context at most, then 12 patches at most for the global model
        for (int[] limits : new int[][]{{48, 256}, {1024, 12}}) {
            Blt model = BltFixtures.randomBlt(BltFixtures.tinyBltConfig(8, limits[0], limits[1]), 15);
            EntropyModel entropy = BltFixtures.randomEntropyModel(8, 8192, 16);
            Patcher patcher = threshold(entropy, 0.6);
            var settings = new BltGeneration.Settings(150, false, SamplingOptions.greedy(), 256);
            Trace t = assertSameAsNoCache(model, entropy, patcher, text(70), settings);
            int maxContext = t.steps().stream().mapToInt(BltGeneration.Step::contextIds).max().orElseThrow();
            int maxPatches = t.steps().stream().mapToInt(BltGeneration.Step::patches).max().orElseThrow();
            assertTrue(maxContext <= limits[0] && maxPatches <= limits[1], maxContext + " ids, " + maxPatches + " patches");
            assertTrue(t.steps().stream().anyMatch(s -> s.contextIds() < t.steps().get(0).contextIds()), "the context was never cut");
        }
    }

    @Test
    void aLongPromptKeepsItsLastIdsAndLosesItsBos() {
        byte[] prompt = text(300);
        int[] ids = BltGeneration.promptIds(prompt, 256);
        assertEquals(256, ids.length);
        assertEquals((prompt[299] & 0xff) + 4, ids[255]);
        assertEquals((prompt[44] & 0xff) + 4, ids[0]); // no BOS: the reference's truncation keeps the tail
        assertEquals(1, BltGeneration.promptIds(text(254), 256)[0]); // 255 ids: kept whole
        Blt model = BltFixtures.randomBlt(BltFixtures.tinyBltConfig(12, 1024, 256), 17);
        EntropyModel entropy = BltFixtures.randomEntropyModel(12, 8192, 18);
        assertSameAsNoCache(model, entropy, threshold(entropy, 0.6), prompt, new BltGeneration.Settings(20, false, SamplingOptions.greedy(), 256));
    }

    @Test
    void stopsAtEosOnlyWhenAsked() {
        Blt model = BltFixtures.randomBlt(BltFixtures.tinyBltConfig(16, 1024, 256), 9);
        EntropyModel entropy = BltFixtures.randomEntropyModel(16, 8192, 10);
        Patcher patcher = threshold(entropy, 0.5);
        var greedy = SamplingOptions.greedy();
        BltFixtures.makeEosLikely(model, new BltGenerator(model, entropy, patcher), text(20), new BltGeneration.Settings(100, false, greedy, 256));
        Trace all = run(new BltGenerator(model, entropy, patcher), text(20), new BltGeneration.Settings(100, false, greedy, 256));
        int firstEos = Arrays.stream(all.ids()).boxed().toList().indexOf(2);
        assertTrue(firstEos >= 0, "no EOS generated");
        for (BltGeneration g : new BltGeneration[]{new BltGenerator(model, entropy, patcher), new BltNoCacheGenerator(model, entropy, patcher)}) {
            Trace stopped = run(g, text(20), new BltGeneration.Settings(100, true, greedy, 256));
            assertEquals(ByteLmGenerator.Stop.EOS, stopped.result().reason());
            assertArrayEquals(Arrays.copyOf(all.ids(), firstEos + 1), stopped.ids());
        }
    }

    @Test
    void rulesAndConfigsIncrementalGenerationCannotFollowAreRefused() {
        Blt model = BltFixtures.randomBlt(BltFixtures.tinyBltConfig(12, 1024, 256), 19);
        EntropyModel entropy = BltFixtures.randomEntropyModel(12, 8192, 20);
        Patcher topK = new PatcherConfig(PatcherConfig.Mode.ENTROPY, null, null, false, null, 4.5).build();
        var e = assertThrows(IllegalArgumentException.class, () -> new BltGenerator(model, entropy, topK));
        assertTrue(e.getMessage().contains("top-k"), e.getMessage());
        new BltNoCacheGenerator(model, entropy, topK); // the oracle follows any rule

        ObjectNode c = BltFixtures.tinyBltConfig(12, 1024, 256);
        c.put("cross_attn_window_decoder", 2);
        Blt windowed = BltFixtures.randomBlt(c, 21);
        Patcher p = threshold(entropy, 0.5);
        var w = assertThrows(IllegalArgumentException.class,
                () -> new BltGenerator(windowed, entropy, p).generate(text(5), BltGeneration.Settings.reference(3), BltGeneration.Listener.NONE));
        assertTrue(w.getMessage().contains("cross_attn_window_decoder"), w.getMessage());
        var none = assertThrows(IllegalArgumentException.class, () -> new BltGenerator(model, null, p));
        assertTrue(none.getMessage().contains("entropy model"), none.getMessage());
    }
}

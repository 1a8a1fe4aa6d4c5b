package dev.patchwork.model;

import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.tensor.ParameterLayout;
import dev.patchwork.util.Json;
import dev.patchwork.util.PatchworkException;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** MEGABYTE's invariants: causality under the pad/shift, where the shifts take their inputs, incremental decoding. */
class MegabyteTest {
    static final int P = 4, T = 16, VOCAB = 260;

    static MegabyteConfig config() {
        return new MegabyteConfig(P, 8, 2, 2, 16, 2, 2, null, 16, 32, VOCAB, 1e-5, 10000.0, 7L);
    }

    static int[] randomIds(long seed, int n) {
        var r = new SplittableRandom(seed);
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) ids[i] = 4 + r.nextInt(256);
        return ids;
    }

    static float[] row(float[] logits, int t) {
        return Arrays.copyOfRange(logits, t * VOCAB, (t + 1) * VOCAB);
    }

    @Test
    void changingByteTLeavesEveryLogitUpToTBitIdenticalAndChangesSomeLaterOne() {
        Megabyte m = Megabyte.initialise(config());
        int[] ids = randomIds(1, T);
        float[] base = m.forward(ids, 1, T).clone();
        for (int t = 0; t < T; t++) {
            int[] changed = ids.clone();
            changed[t] = 4 + (ids[t] - 4 + 101) % 256;
            float[] after = m.forward(changed, 1, T);
            for (int s = 0; s <= t; s++)
                assertArrayEquals(row(base, s), row(after, s), "byte " + t + " leaked into the logits at position " + s);
            boolean laterChanged = false;
            for (int s = t + 1; s < T; s++) laterChanged |= !Arrays.equals(row(base, s), row(after, s));
            assertEquals(t < T - 1, laterChanged, "byte " + t + " must reach the later positions (and only them)");
        }
    }

    @Test
    void rowsOfABatchAreIndependentSequences() {
        Megabyte m = Megabyte.initialise(config());
        int[] a = randomIds(2, T), b = randomIds(3, T);
        int[] both = new int[2 * T];
        System.arraycopy(a, 0, both, 0, T);
        System.arraycopy(b, 0, both, T, T);
        float[] batch = m.forward(both, 2, T).clone();
        float[] alone = m.forward(b, 1, T);
        for (int t = 0; t < T; t++) assertArrayEquals(row(alone, t), row(batch, T + t), 1e-5f, "row 1 position " + t);
    }

    /** Sets one row of an embedding table in place (returns the old values). */
    static void bump(Megabyte m, String table, int row, float delta) {
        ParameterLayout.View v = m.layout().view(table);
        for (int j = 0; j < v.cols(); j++) m.parameters().set(v, (long) row * v.cols() + j, m.parameters().get(v, (long) row * v.cols() + j) + delta);
    }

    @Test
    void firstPositionSeesOnlyThePads() {
        Megabyte m = Megabyte.initialise(config());
        float[] a = row(m.forward(randomIds(4, T), 1, T), 0), b = row(m.forward(randomIds(5, T), 1, T), 0);
        assertArrayEquals(a, b, "position 0 must not depend on any byte");
        for (String pad : new String[]{"global_pad", "local_pad"}) {
            Megabyte fresh = Megabyte.initialise(config());
            ParameterLayout.View v = fresh.layout().view(pad);
            fresh.parameters().set(v, 0, fresh.parameters().get(v, 0) + 0.5f);
            assertFalse(Arrays.equals(a, row(fresh.forward(randomIds(4, T), 1, T), 0)), pad + " must feed position 0");
        }
    }

    @Test
    void globalInputIsShiftedByOnePatchAndLocalInputByOneByte() {
        int[] ids = randomIds(6, T);
        ids[P - 1] = 0;      // a byte used nowhere else: the last of patch 0 ...
        ids[T - 1] = 3;      // ... and the last byte of the sequence
        for (int i = 0; i < T; i++) if (i != P - 1 && i != T - 1) assertTrue(ids[i] >= 4);
        float[] base = Megabyte.initialise(config()).forward(ids, 1, T).clone();

        // the global embedding of byte P−1 reaches the global model only through patch 1's input
        Megabyte g = Megabyte.initialise(config());
        bump(g, "global_embeddings.weight", 0, 0.5f);
        float[] afterGlobal = g.forward(ids, 1, T);
        for (int t = 0; t < P; t++) assertArrayEquals(row(base, t), row(afterGlobal, t), "patch 0 saw its own bytes globally at " + t);
        for (int t = P; t < 2 * P; t++) assertFalse(Arrays.equals(row(base, t), row(afterGlobal, t)), "patch 1 must see patch 0 at " + t);

        // the local embedding of byte t feeds position t+1 only, inside its patch: byte P−1 (last of patch 0) feeds no one
        Megabyte l = Megabyte.initialise(config());
        bump(l, "local_embeddings.weight", 0, 0.5f);
        assertArrayEquals(base, Arrays.copyOf(l.forward(ids, 1, T), T * VOCAB), "a patch's last byte has no local successor");
        int t = 5; // byte 5 (inside patch 1) feeds local position 6 and, through local attention, 7
        Megabyte l2 = Megabyte.initialise(config());
        bump(l2, "local_embeddings.weight", ids[t], 0.5f);
        float[] afterLocal = l2.forward(ids, 1, T);
        boolean repeated = false;
        for (int i = 0; i < T - 1; i++) repeated |= i != t && ids[i] == ids[t];
        assertFalse(repeated, "test data: byte " + t + " must be unique");
        for (int s = 0; s <= t; s++) assertArrayEquals(row(base, s), row(afterLocal, s), "position " + s);
        assertFalse(Arrays.equals(row(base, t + 1), row(afterLocal, t + 1)), "byte t must be the local input of t+1");
        for (int s = 2 * P; s < T; s++) assertArrayEquals(row(base, s), row(afterLocal, s), "local embeddings never cross a patch, position " + s);
        // the last byte of the sequence is dropped by both shifts
        Megabyte last = Megabyte.initialise(config());
        bump(last, "global_embeddings.weight", 3, 0.5f);
        bump(last, "local_embeddings.weight", 3, 0.5f);
        assertArrayEquals(base, Arrays.copyOf(last.forward(ids, 1, T), T * VOCAB), "the last byte is no one's input");
    }

    @Test
    void incrementalSessionMatchesTheFullForward() {
        Megabyte m = Megabyte.initialise(config());
        int n = 32;
        int[] ids = randomIds(8, n);
        float[] full = m.forward(ids, 1, n).clone();
        Megabyte.Session s = m.newSession(n);
        assertEquals(n, s.capacity());
        for (int t = 0; t < n; t++) {
            float[] expected = row(full, t);
            assertArrayEquals(expected, s.logits(), 1e-4f, "position " + t);
            if (t < n - 1) s.step(ids[t]);
        }
        assertTrue(s.full());
        assertThrows(IllegalStateException.class, () -> s.step(ids[n - 1]));
    }

    @Test
    void badConfigsAreRefusedWithTheFieldName() {
        String[][] cases = {
                {"{\"global_dim\": 8, \"patch_size\": 3, \"max_seqlen\": 64}", "multiple of patch_size"},
                {"{\"global_dim\": 8, \"patch_size\": 0}", "patch_size must be > 0"},
                {"{\"global_dim\": 6, \"patch_size\": 4, \"global_heads\": 5}", "global_heads"},
                {"{\"global_dim\": 8, \"local_dim\": 30, \"local_heads\": 4}", "local_heads"},
                {"{\"global_dim\": 8, \"vocab_size\": 3}", "vocab_size"},
                {"{\"global_dim\": 8, \"globl_layers\": 3}", "unknown field 'globl_layers'"},
        };
        for (String[] c : cases) {
            var e = assertThrows(PatchworkException.class, () -> MegabyteConfig.fromJson(Json.MAPPER.readTree(c[0]), "cfg"));
            assertTrue(e.getMessage().contains(c[1]), c[0] + " -> " + e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> Megabyte.initialise(config()).forward(new int[6], 1, 6));
    }

    @Test
    void theShippedTinyConfigIsAboutTheSizeOfTheNanoGptByteLm() {
        var root = Json.readTree(java.nio.file.Path.of("configs/megabyte-tiny.json"));
        MegabyteConfig mb = MegabyteConfig.fromJson(root.get("model"), "megabyte-tiny");
        ByteLmConfig lm = ByteLmConfig.fromJson(Json.readTree(java.nio.file.Path.of("configs/bytelm-nanogpt.json")).get("model"), "nanogpt");
        assertEquals(4, mb.patchSize());
        assertEquals(256, mb.maxSeqlen());
        long a = Megabyte.layoutOf(mb).parameterCount(), b = ByteLm.layoutOf(lm).parameterCount();
        assertTrue(Math.abs(a - b) < 0.05 * b, "MEGABYTE " + a + " vs byte LM " + b + " parameters");
    }

    @Test
    void configRoundTripsAndIsRecognised() throws Exception {
        MegabyteConfig c = config();
        var node = Json.MAPPER.readTree(c.toJson());
        assertEquals(c, MegabyteConfig.fromJson(node, "x"));
        assertTrue(MegabyteConfig.isMegabyte(node));
        assertEquals(ModelDirectory.Kind.MEGABYTE, ModelDirectory.kindOf(node));
        ParameterBuffer p = Megabyte.initialise(c).parameters();
        assertEquals(Megabyte.layoutOf(c).totalFloats(), p.floats());
    }
}

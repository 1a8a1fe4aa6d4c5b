package dev.patchwork.patch;

import dev.patchwork.data.ByteTokens;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/** Each rule of spec §4 on hand-made inputs whose patches are worked out in the comments. */
class PatcherRulesTest {
    static final int NONE = Patcher.NO_MAX_LENGTH;

    static int[] lengths(Patcher p, int[] ids, float[] h, boolean next) {
        return p.patch(ids, h, next).lengths();
    }

    static int[] text(String s) {
        return ByteTokens.encode(s, true, false);
    }

    static int[] ids(int n) {
        int[] ids = new int[n];
        if (n > 0) ids[0] = ByteTokens.BOS;
        for (int i = 1; i < n; i++) ids[i] = 'a' + 4;
        return ids;
    }

    // ---- global threshold ----

    @Test
    void globalThreshold() {
        Patcher p = new GlobalThresholdPatcher(1f, NONE);
        float[] h = {9, 0, 2, 0, 0, 2, 0, 9};
        // H[0] is ignored; H[2] > 1 opens 3, H[5] > 1 opens 6; H[7] is read only with the next byte (opens 8)
        assertArrayEquals(new int[]{1, 2, 3, 2}, lengths(p, ids(8), h, false));
        assertArrayEquals(new int[]{1, 2, 3, 2, 1}, lengths(p, ids(8), h, true));
    }

    @Test
    void globalThresholdIsStrict() {
        Patcher p = new GlobalThresholdPatcher(1f, NONE);
        assertArrayEquals(new int[]{1, 4}, lengths(p, ids(5), new float[]{0, 1, 1, 1, 1}, false));
        assertArrayEquals(new int[]{1, 1, 1, 1, 1}, lengths(p, ids(5), new float[]{0, 1.0000001f, 2, 3, 0}, false));
    }

    @Test
    void thresholdIsComparedInFloat32() {
        // 0.1 is not a float: (float) 0.1 == 0.1f, so an entropy of 0.1f is not above θ=0.1 in float32 (it would be in double)
        assertTrue((double) 0.1f > 0.1);
        Patcher p = PatcherConfig.entropy(0.1).build();
        assertArrayEquals(new int[]{1, 3}, lengths(p, ids(4), new float[]{0, 0.1f, 0.1f, 0.1f}, false));
        assertArrayEquals(new int[]{1, 1, 2}, lengths(p, ids(4), new float[]{0, Math.nextUp(0.1f), 0.1f, 0.1f}, false));
    }

    @Test
    void shortSequences() {
        for (Patcher p : List.<Patcher>of(new GlobalThresholdPatcher(1f, NONE), new RelativeThresholdPatcher(1f, NONE),
                new GlobalRelativePatcher(1f, 0.5f, NONE), new TopKPatcher(4.5, NONE))) {
            assertArrayEquals(new int[0], lengths(p, ids(0), new float[0], false), p.describe());
            assertArrayEquals(new int[]{1}, lengths(p, ids(0), new float[0], true), p.describe());
            assertArrayEquals(new int[]{1}, lengths(p, ids(1), new float[]{5}, false), p.describe());
            assertArrayEquals(new int[]{1, 1}, lengths(p, ids(1), new float[]{5}, true), p.describe());
            assertArrayEquals(new int[]{1, 1}, lengths(p, ids(2), new float[]{5, 0}, false), p.describe());
        }
        // two ids with the next byte: H[1] decides (global), the forced start 2 opens it (relative rules)
        assertArrayEquals(new int[]{1, 2}, lengths(new GlobalThresholdPatcher(1f, NONE), ids(2), new float[]{5, 0}, true));
        assertArrayEquals(new int[]{1, 1, 1}, lengths(new GlobalThresholdPatcher(1f, NONE), ids(2), new float[]{5, 3}, true));
        assertArrayEquals(new int[]{1, 1, 1}, lengths(new RelativeThresholdPatcher(1f, NONE), ids(2), new float[]{5, 0}, true));
    }

    @Test
    void longLowEntropyRunWithAndWithoutMaxLength() {
        float[] h = new float[1000];
        h[0] = 9;
        Patcher free = new GlobalThresholdPatcher(1f, NONE);
        assertArrayEquals(new int[]{1, 999}, lengths(free, ids(1000), h, false));
        int[] split = lengths(new GlobalThresholdPatcher(1f, 64), ids(1000), h, false);
        // 999 = 15 · 64 + 39: split_large_numbers keeps the remainder last
        assertEquals(17, split.length);
        assertEquals(1, split[0]);
        for (int i = 1; i <= 15; i++) assertEquals(64, split[i]);
        assertEquals(39, split[16]);
        // an exact multiple gives no empty remainder: 128 → [64, 64]
        assertArrayEquals(new int[]{1, 64, 64}, lengths(new GlobalThresholdPatcher(1f, 64), ids(129), new float[129], false));
        assertArrayEquals(new int[]{1, 64, 64, 1}, lengths(new GlobalThresholdPatcher(1f, 64), ids(129), new float[129], true));
    }

    // ---- relative (monotonicity) ----

    @Test
    void relativeThreshold() {
        Patcher p = new RelativeThresholdPatcher(1f, NONE);
        float[] h = {5, 0, 0, 3, 3.5f, 0.2f, 2.0f, 2.1f};
        // start 2 forced (t=1); t=3: 3−0 > 1 opens 4; t=6: 2.0−0.2 > 1 opens 7; a high but flat entropy (t=4) does not
        assertArrayEquals(new int[]{1, 1, 2, 3, 1}, lengths(p, ids(8), h, false));
        assertArrayEquals(new int[]{1, 1, 2, 3, 2}, lengths(p, ids(8), h, true));
    }

    @Test
    void relativeDifferenceIsTakenInFloat32() {
        // 1.1f − 0.1f rounds to exactly 1.0f in float32, so it is not above θ=1 (in double it is 1.0000000149)
        assertTrue((double) 1.1f - (double) 0.1f > 1.0);
        assertEquals(1.0f, 1.1f - 0.1f);
        Patcher p = new RelativeThresholdPatcher(1f, NONE);
        assertArrayEquals(new int[]{1, 1, 3}, lengths(p, ids(4), new float[]{0, 0, 0.1f, 1.1f}, true));
        assertArrayEquals(new int[]{1, 1, 2, 1}, lengths(p, ids(4), new float[]{0, 0, 0.1f, 1.2f}, true));
    }

    // ---- global + relative ----

    @Test
    void globalAndRelative() {
        Patcher p = new GlobalRelativePatcher(1f, 0.5f, NONE);
        float[] h = {0, 0, 9, 9, 0, 2, 2.2f, 3, 0, 0};
        // start 2 forced; t=2 never opens 3 (vectorised quirk) although 9 > 1 and it rose by 9;
        // t=5: rise 2 > 0.5 and 2 > 1 opens 6; t=6: rise 0.2 too small; t=7: rise 0.8 and 3 > 1 opens 8
        assertArrayEquals(new int[]{1, 1, 4, 2, 2}, lengths(p, ids(10), h, false));
        // the global rule alone opens 3, 4, 6, 7 and 8 (every H[t] > 1, t = 2, 3, 5, 6, 7)
        assertArrayEquals(new int[]{1, 2, 1, 2, 1, 1, 2}, lengths(new GlobalThresholdPatcher(1f, NONE), ids(10), h, false));
    }

    // ---- top-k ----

    @Test
    void topK() {
        float[] h = {100, 1, 5, 2, 7, 1, 1, 3, 1, 9};
        Patcher p = new TopKPatcher(2.5, NONE); // k = ⌊10 / 2.5⌋ − 2 = 2: H[9] and H[4]; H[0] is never a candidate
        assertEquals(2, ((TopKPatcher) p).chosen(10));
        // H[9] opens position 10, past the end without the next byte: that sequence just has one patch fewer
        assertArrayEquals(new int[]{1, 4, 5}, lengths(p, ids(10), h, false));
        assertArrayEquals(new int[]{1, 4, 5, 1}, lengths(p, ids(10), h, true));
    }

    @Test
    void topKTiesAndClamping() {
        float[] flat = new float[10];
        // ties go to earlier positions: k = 2 → H[1], H[2] → starts 2, 3
        assertArrayEquals(new int[]{1, 1, 1, 7}, lengths(new TopKPatcher(2.5, NONE), ids(10), flat, false));
        // k > N−1 is clamped: every position opens a patch
        assertArrayEquals(new int[]{1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, lengths(new TopKPatcher(0.5, NONE), ids(10), flat, false));
        // k < 0 is clamped to 0: only the forced starts
        assertArrayEquals(new int[]{1, 9}, lengths(new TopKPatcher(100, NONE), ids(10), flat, false));
    }

    @Test
    void topKMatchesAPlainSortOnRandomInputsWithTies() {
        SplittableRandom rnd = new SplittableRandom(5);
        for (int trial = 0; trial < 500; trial++) {
            int n = rnd.nextInt(0, 300);
            float[] h = new float[n];
            int levels = rnd.nextInt(1, 12); // few distinct values: many ties
            for (int t = 0; t < n; t++) h[t] = rnd.nextInt(levels) * 0.5f;
            double patchSize = 1 + rnd.nextDouble() * 6;
            TopKPatcher p = new TopKPatcher(patchSize, NONE);
            for (boolean next : new boolean[]{false, true}) {
                int total = n + (next ? 1 : 0);
                // the rule stated plainly: sort H[1..N−1] by (entropy descending, position ascending), take k
                List<Integer> order = new ArrayList<>();
                for (int t = 1; t < n; t++) order.add(t);
                order.sort((x, y) -> h[x] != h[y] ? Float.compare(h[y], h[x]) : Integer.compare(x, y));
                List<Integer> starts = new ArrayList<>();
                if (total > 0) starts.add(0);
                if (total > 1) starts.add(1);
                order.subList(0, p.chosen(n)).stream().sorted().map(t -> t + 1).filter(s -> s < total).forEach(starts::add);
                assertArrayEquals(starts.stream().mapToInt(Integer::intValue).toArray(), p.starts(null, h, n, total), "trial " + trial);
            }
        }
    }

    // ---- space ----

    @Test
    void spacePatching() {
        Patcher p = new SpacePatcher(NONE);
        // BOS a ␠ b: the space ends its patch, b starts the next
        assertArrayEquals(new int[]{1, 2, 1}, lengths(p, text("a b"), null, false));
        assertArrayEquals(new int[]{1, 2, 2}, lengths(p, text("a b"), null, true));
        // only the first of a run of spaces counts
        assertArrayEquals(new int[]{1, 2, 2}, lengths(p, text("a  b"), null, false));
        // words and punctuation: "Hello␠" then "world!"; the "!" opens position 13 = N, which only exists with the next byte
        assertArrayEquals(new int[]{1, 6, 6}, lengths(p, text("Hello world!"), null, false));
        assertArrayEquals(new int[]{1, 6, 6, 1}, lengths(p, text("Hello world!"), null, true));
        assertArrayEquals(new int[]{1, 4, 4, 1}, lengths(p, text("one two 3"), null, false));
    }

    @Test
    void spacePatchingOfAllSpaceText() {
        // BOS is space-like, so the first space does not count, nor do the following ones: one patch after [BOS]
        assertArrayEquals(new int[]{1, 3}, lengths(new SpacePatcher(NONE), text("   "), null, false));
        assertArrayEquals(new int[]{1, 4}, lengths(new SpacePatcher(NONE), text("   "), null, true));
        assertArrayEquals(new int[]{1, 1, 1, 1, 1, 1}, lengths(new SpacePatcher(3 - 2), text("     "), null, false));
    }

    @Test
    void spacePatchingOfNonAscii() {
        // é = C3 A9: the lead byte C3 is space-like, the continuation byte A9 is not, so a patch ends after each lead
        // byte that follows a non-space-like byte (the boundary falls inside the character, as in the reference)
        int[] ids = text("éé");
        assertArrayEquals(new int[]{1, 0xC3 + 4, 0xA9 + 4, 0xC3 + 4, 0xA9 + 4}, ids);
        assertArrayEquals(new int[]{1, 3, 1}, lengths(new SpacePatcher(NONE), ids, null, false));
        // CJK characters (3 bytes: a lead byte E4/E7, two continuation bytes): BOS E4 B8 96 E7 95 8C E4 BD A0; the first
        // lead byte follows BOS (space-like) and does not count, the next two open positions 5 and 8
        assertArrayEquals(new int[]{1, 4, 3, 2}, lengths(new SpacePatcher(NONE), text("世界你"), null, false));
    }

    @Test
    void spaceLikeBytes() {
        String notSpaceLike = "09AZaz";
        for (char c : notSpaceLike.toCharArray()) assertFalse(SpacePatcher.spaceLike(c + 4), "'" + c + "'");
        for (char c : " /:@[`{~\u007f".toCharArray()) assertTrue(SpacePatcher.spaceLike(c + 4), "'" + c + "'");
        assertFalse(SpacePatcher.spaceLike(0x80 + 4));
        assertFalse(SpacePatcher.spaceLike(0xBF + 4));
        assertTrue(SpacePatcher.spaceLike(0xC0 + 4));
        assertTrue(SpacePatcher.spaceLike(0xFF + 4));
        for (int special = 0; special < 4; special++) assertTrue(SpacePatcher.spaceLike(special));
    }

    @Test
    void specialIdsAlwaysCount() {
        // BOS a EOS BOS b: EOS and the second BOS each end a patch although EOS follows no space-like byte only once
        int[] ids = {ByteTokens.BOS, 'a' + 4, ByteTokens.EOS, ByteTokens.BOS, 'b' + 4};
        assertArrayEquals(new int[]{1, 2, 1, 1}, lengths(new SpacePatcher(NONE), ids, null, false));
    }

    // ---- static, byte, BPE ----

    @Test
    void staticPatching() {
        Patcher p = new StaticPatcher(4, NONE);
        assertArrayEquals(new int[]{4, 4, 2}, lengths(p, ids(10), null, false));
        assertArrayEquals(new int[]{4, 4, 3}, lengths(p, ids(10), null, true));
        assertArrayEquals(new int[]{4, 4}, lengths(p, ids(8), null, false));
        assertArrayEquals(new int[]{4, 4, 1}, lengths(p, ids(8), null, true));
        assertArrayEquals(new int[0], lengths(p, ids(0), null, false));
        assertArrayEquals(new int[]{1}, lengths(p, ids(0), null, true));
        assertArrayEquals(new int[]{3, 1, 3, 1, 2}, lengths(new StaticPatcher(4, 3), ids(10), null, false));
    }

    @Test
    void bytePatching() {
        assertArrayEquals(new int[]{1, 1, 1}, lengths(new BytePatcher(NONE), ids(3), null, false));
        assertArrayEquals(new int[]{1, 1, 1, 1}, lengths(new BytePatcher(NONE), ids(3), null, true));
        assertArrayEquals(new int[0], lengths(new BytePatcher(NONE), ids(0), null, false));
    }

    @Test
    void bpeDelimiterPatching() {
        int d = ByteTokens.BPE_DELIM;
        int[] ids = {ByteTokens.BOS, d, 'a' + 4, 'b' + 4, d, 'c' + 4, d};
        // delimiters at 1 and 4 open 2 and 5; the one in the last position opens nothing, even with the next byte
        assertArrayEquals(new int[]{1, 1, 3, 2}, lengths(new BpeDelimiterPatcher(NONE), ids, null, false));
        assertArrayEquals(new int[]{1, 1, 3, 3}, lengths(new BpeDelimiterPatcher(NONE), ids, null, true));
        // a delimiter in position 0 would open 1 a second time: kept once
        assertArrayEquals(new int[]{1, 2}, lengths(new BpeDelimiterPatcher(NONE), new int[]{d, 'a' + 4, 'b' + 4}, null, false));
    }

    // ---- invariants over random inputs ----

    @Test
    void everyRuleCoversTheSequenceAndSplittingIsSplitLargeNumbers() {
        SplittableRandom rnd = new SplittableRandom(42);
        for (int trial = 0; trial < 300; trial++) {
            int n = rnd.nextInt(0, 60);
            int[] ids = new int[n];
            float[] h = new float[n];
            for (int i = 0; i < n; i++) {
                ids[i] = i == 0 ? ByteTokens.BOS : rnd.nextInt(0, 8) == 0 ? rnd.nextInt(0, 4) : rnd.nextInt(4, 260);
                h[i] = (float) (rnd.nextDouble() * 4);
            }
            int max = rnd.nextInt(1, 6);
            for (boolean next : new boolean[]{false, true}) {
                for (PatcherConfig c : configs(max)) {
                    PatcherConfig unlimited = new PatcherConfig(c.patchingMode(), c.threshold(), c.thresholdAdd(), c.monotonicity(), null, c.patchSize());
                    Patcher limited = c.build();
                    int[] l = limited.patch(ids, h, next).lengths();
                    int sum = 0;
                    for (int len : l) {
                        assertTrue(len >= 1 && len <= max, limited.describe());
                        sum += len;
                    }
                    assertEquals(n + (next ? 1 : 0), sum, limited.describe());
                    assertArrayEquals(splitLargeNumbers(unlimited.build().patch(ids, h, next).lengths(), max), l, limited.describe());
                }
            }
        }
    }

    static List<PatcherConfig> configs(int max) {
        List<PatcherConfig> out = new ArrayList<>();
        PatcherConfig.Mode e = PatcherConfig.Mode.ENTROPY;
        out.add(new PatcherConfig(e, 2.0, null, false, max, 4.5));
        out.add(new PatcherConfig(e, 0.5, null, true, max, 4.5));
        out.add(new PatcherConfig(e, 1.5, 0.3, false, max, 4.5));
        out.add(new PatcherConfig(e, null, null, false, max, 3.0));
        for (PatcherConfig.Mode m : new PatcherConfig.Mode[]{PatcherConfig.Mode.SPACE, PatcherConfig.Mode.STATIC, PatcherConfig.Mode.BYTE, PatcherConfig.Mode.BPE})
            out.add(new PatcherConfig(m, null, null, false, max, 7));
        return out;
    }

    /** The spec's statement of the reference's split_large_numbers: L > m → ⌊L/m⌋ pieces of m, then the non-zero remainder. */
    static int[] splitLargeNumbers(int[] lengths, int m) {
        List<Integer> out = new ArrayList<>();
        for (int len : lengths) {
            for (int i = 0; i < len / m && len > m; i++) out.add(m);
            if (len <= m) out.add(len);
            else if (len % m != 0) out.add(len % m);
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    // ---- bad input ----

    @Test
    void badInputIsRefusedWithAClearMessage() {
        Patcher p = new GlobalThresholdPatcher(1f, NONE);
        assertTrue(assertThrows(IllegalArgumentException.class, () -> p.patch(ids(3), new float[2], false))
                .getMessage().contains("2 entropies for 3 ids"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> p.patch(ids(3), new float[]{0, Float.NaN, 0}, false))
                .getMessage().contains("position 1 is NaN"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> p.patch(ids(3), null, false))
                .getMessage().contains("needs one entropy per id"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new SpacePatcher(NONE).patch(null, new float[3], false))
                .getMessage().contains("reads the ids"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new GlobalThresholdPatcher(-1f, NONE))
                .getMessage().contains("threshold must be >= 0"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new GlobalThresholdPatcher(Float.NaN, NONE))
                .getMessage().contains("threshold is NaN"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new BytePatcher(-3))
                .getMessage().contains("max_patch_length"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new StaticPatcher(0, NONE))
                .getMessage().contains("patch_size"));
    }
}

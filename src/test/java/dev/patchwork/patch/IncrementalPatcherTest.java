package dev.patchwork.patch;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The incremental rule gives, for every prefix, exactly the patches of the batch patcher with the virtual next byte
 * (include_next_token=true): each rule, with and without max_patch_length, on random ids (with spaces, punctuation,
 * specials and UTF-8 bytes) and random entropies around the thresholds.
 */
class IncrementalPatcherTest {
    static List<Patcher> rules() {
        List<Patcher> rules = new ArrayList<>();
        for (int max : new int[]{Patcher.NO_MAX_LENGTH, 1, 3, 5}) {
            rules.add(new GlobalThresholdPatcher(1.5f, max));
            rules.add(new RelativeThresholdPatcher(0.4f, max));
            rules.add(new GlobalRelativePatcher(1.2f, 0.3f, max));
            rules.add(new SpacePatcher(max));
            rules.add(new BytePatcher(max));
            rules.add(new StaticPatcher(1, max));
            rules.add(new StaticPatcher(4, max));
        }
        return rules;
    }

    static int[] randomIds(SplittableRandom r, int n) {
        int[] ids = new int[n];
        ids[0] = 1;
        String alphabet = "ab Z9 ,.\n";
        for (int i = 1; i < n; i++) {
            int u = r.nextInt(10);
            ids[i] = u < 6 ? alphabet.charAt(r.nextInt(alphabet.length())) + 4 : u < 8 ? 4 + r.nextInt(256) : r.nextInt(4);
        }
        return ids;
    }

    /** The patch lengths the incremental rule gives after each prefix: closed patches, then the open one + virtual byte. */
    static List<int[]> incrementalLengths(IncrementalPatcher inc, int[] ids, float[] h) {
        List<int[]> out = new ArrayList<>();
        List<Integer> closed = new ArrayList<>();
        inc.reset();
        for (int t = 0; t < ids.length; t++) {
            int before = inc.openLength();
            if (inc.endsPatch(ids, h, t)) closed.add(before + 1);
            int[] lengths = new int[closed.size() + 1];
            for (int i = 0; i < closed.size(); i++) lengths[i] = closed.get(i);
            lengths[closed.size()] = inc.openLength() + 1; // the open bytes and the virtual next byte
            out.add(lengths);
        }
        return out;
    }

    @Test
    void everyPrefixGetsTheBatchPatchersPatches() {
        SplittableRandom r = new SplittableRandom(11);
        for (Patcher rule : rules()) {
            IncrementalPatcher inc = IncrementalPatcher.of(rule);
            for (int trial = 0; trial < 6; trial++) {
                int n = 1 + r.nextInt(60);
                int[] ids = randomIds(r, n);
                float[] h = new float[n];
                for (int i = 0; i < n; i++) h[i] = (float) (r.nextDouble() * 3);
                List<int[]> got = incrementalLengths(inc, ids, h);
                for (int N = 1; N <= n; N++) {
                    int[] want = rule.patch(Arrays.copyOf(ids, N), Arrays.copyOf(h, N), true).lengths();
                    assertArrayEquals(want, got.get(N - 1), rule.describe() + ", prefix of " + N + " ids " + Arrays.toString(Arrays.copyOf(ids, N)));
                }
            }
        }
    }

    @Test
    void anEntropyExactlyAtTheThresholdDoesNotOpenAPatch() {
        IncrementalPatcher inc = IncrementalPatcher.of(new GlobalThresholdPatcher(2f, Patcher.NO_MAX_LENGTH));
        float[] h = {9, 2f, Math.nextUp(2f), 0};
        int[] ids = {1, 50, 60, 70};
        boolean[] ends = new boolean[4];
        for (int t = 0; t < 4; t++) ends[t] = inc.endsPatch(ids, h, t);
        assertArrayEquals(new boolean[]{true, false, true, false}, ends);
    }

    @Test
    void rulesThatMoveEarlierBoundariesAreRefused() {
        var topK = assertThrows(IllegalArgumentException.class, () -> IncrementalPatcher.of(new TopKPatcher(4.5, 0)));
        assertTrue(topK.getMessage().contains("top-k"), topK.getMessage());
        var bpe = assertThrows(IllegalArgumentException.class, () -> IncrementalPatcher.of(new BpeDelimiterPatcher(0)));
        assertTrue(bpe.getMessage().contains("--no-cache"), bpe.getMessage());
    }

    @Test
    void positionsMustComeInOrder() {
        IncrementalPatcher inc = IncrementalPatcher.of(new BytePatcher(0));
        inc.endsPatch(new int[]{1, 5}, null, 0);
        assertThrows(IllegalArgumentException.class, () -> inc.endsPatch(new int[]{1, 5, 6}, null, 2));
    }
}

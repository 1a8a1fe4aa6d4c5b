package dev.patchwork.data;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/** The reference's packing of patch sequences (spec §7), batch padding, and evaluation windows. */
class PackingTest {
    static int[] iota(int n, int from) {
        int[] a = new int[n];
        for (int i = 0; i < n; i++) a[i] = from + i;
        return a;
    }

    static int sum(int[] a) {
        return Arrays.stream(a).sum();
    }

    static void assertWellFormed(PackedSequence s) {
        assertEquals(1, s.lengths()[0], "first patch");
        assertEquals(s.x().length + 1, sum(s.lengths()), "lengths cover x and the last target");
        for (int i = 0; i + 1 < s.x().length; i++) assertEquals(s.x()[i + 1], s.y()[i], "y is x shifted by one");
    }

    @Test
    void aSequenceThatStartsWithAOneBytePatchKeepsItsPatches() {
        int[] tokens = iota(10, 100), lengths = {1, 4, 2, 3};
        PackedSequence s = PackedSequence.reference(tokens, lengths, 1000);
        assertArrayEquals(lengths, s.lengths());
        assertArrayEquals(Arrays.copyOf(tokens, 9), s.x());            // x = toks[:-1]
        assertArrayEquals(Arrays.copyOfRange(tokens, 1, 10), s.y());   // y = toks[1:]
        assertWellFormed(s);
    }

    /** PackingIterator: a first patch of L0 > 1 becomes [1, L0−1] and the last patch is dropped with its tokens. */
    @Test
    void aLongFirstPatchIsSplitAndTheLastPatchDropped() {
        int[] tokens = iota(12, 100), lengths = {3, 2, 4, 3};
        PackedSequence s = PackedSequence.reference(tokens, lengths, 1000);
        assertArrayEquals(new int[]{1, 2, 2, 4}, s.lengths());
        assertEquals(lengths.length, s.lengths().length, "still seq_len patches");
        assertArrayEquals(iota(8, 100), s.x());
        assertArrayEquals(iota(8, 101), s.y());
        assertWellFormed(s);
    }

    @Test
    void aRowLongerThanTheEncoderLimitIsCut() {
        int[] tokens = iota(20, 100), lengths = {1, 6, 6, 7};
        PackedSequence s = PackedSequence.reference(tokens, lengths, 9);
        assertEquals(9, s.x().length);
        assertArrayEquals(new int[]{1, 6, 3}, s.lengths());
        assertWellFormed(s);
        PackedSequence exact = PackedSequence.reference(tokens, lengths, 12); // cut exactly at a patch boundary
        assertArrayEquals(new int[]{1, 6, 6}, exact.lengths());
    }

    @Test
    void randomSequencesAreAlwaysWellFormed() {
        SplittableRandom r = new SplittableRandom(3);
        for (int trial = 0; trial < 500; trial++) {
            int S = 2 + r.nextInt(12);
            int[] lengths = new int[S];
            for (int i = 0; i < S; i++) lengths[i] = 1 + r.nextInt(i == 0 && r.nextBoolean() ? 1 : 9);
            int[] tokens = iota(sum(lengths), 4);
            PackedSequence s = PackedSequence.reference(tokens, lengths, 1 + r.nextInt(60));
            assertWellFormed(s);
            assertTrue(s.lengths().length <= S);
            assertEquals(tokens[0], s.x()[0], "a sequence starts at its first patch");
        }
    }

    @Test
    void badSequencesAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> PackedSequence.reference(iota(3, 0), new int[]{3}, 10));
        assertThrows(IllegalArgumentException.class, () -> PackedSequence.reference(iota(5, 0), new int[]{1, 3}, 10));
        assertThrows(IllegalArgumentException.class, () -> new PackedSequence(iota(3, 0), iota(3, 1), new int[]{2, 2}));
        assertThrows(IllegalArgumentException.class, () -> new PackedSequence(iota(3, 0), iota(3, 1), new int[]{1, 2}));
    }

    @Test
    void aBatchPadsShortRowsIntoTheirLastPatch() {
        PackedSequence a = new PackedSequence(iota(6, 10), iota(6, 11), new int[]{1, 3, 3});
        PackedSequence b = new PackedSequence(iota(3, 20), iota(3, 21), new int[]{1, 2, 1});
        BltBatch batch = BltBatch.of(List.of(a, b));
        assertEquals(2, batch.rows());
        assertEquals(6, batch.bytes());
        assertEquals(9, batch.targets());
        assertArrayEquals(new int[]{1, 3, 3}, batch.lengths()[0]);
        assertArrayEquals(new int[]{1, 2, 4}, batch.lengths()[1]);
        assertArrayEquals(new int[]{20, 21, 22, BltBatch.PAD_INPUT, BltBatch.PAD_INPUT, BltBatch.PAD_INPUT}, Arrays.copyOfRange(batch.x(), 6, 12));
        assertArrayEquals(new int[]{21, 22, 23, -1, -1, -1}, Arrays.copyOfRange(batch.y(), 6, 12));
        assertEquals(3, batch.maxPatches());
    }

    /** Windows over one document: every target 1 … N−1 once, each window within the limits and well formed. */
    @Test
    void windowsScoreEveryTargetOnceWithinTheLimits() {
        SplittableRandom r = new SplittableRandom(5);
        for (int trial = 0; trial < 300; trial++) {
            int P = 1 + r.nextInt(40);
            int[] lengths = new int[P];
            for (int i = 0; i < P; i++) lengths[i] = 1 + r.nextInt(i == 0 ? 3 : 12);
            int N = sum(lengths);
            int maxPatches = 2 + r.nextInt(8), maxInputs = 1 + r.nextInt(30);
            PatchWindows w = PatchWindows.ofDocument(lengths, maxPatches, maxInputs);
            long next = 1;
            List<int[]> all = new ArrayList<>();
            while (w.hasNext()) {
                PatchWindows.Window win = w.next();
                assertEquals(next, win.firstTarget(), "windows are consecutive");
                assertEquals(1, win.lengths()[0]);
                assertTrue(win.lengths().length <= maxPatches, "patches per window");
                assertTrue(win.size() >= 1 && win.size() <= maxInputs, "inputs per window");
                next += win.size();
                all.add(win.lengths());
            }
            assertEquals(N, next, "every target once (N = " + N + ")");
            // a patch is cut only when it alone exceeds the byte limit
            for (int[] l : all) for (int i = 1; i < l.length; i++) assertTrue(l[i] <= Math.max(maxInputs, 1));
        }
    }

    @Test
    void aDocumentThatFitsIsOneWindowWithTheDocumentsOwnPatches() {
        int[] lengths = {1, 4, 2, 5, 1};
        PatchWindows w = PatchWindows.ofDocument(lengths, 8, 100);
        PatchWindows.Window only = w.next();
        assertFalse(w.hasNext());
        assertArrayEquals(lengths, only.lengths());
        assertEquals(12, only.size());
        // a static-patching document (first patch longer than one): the BOS becomes a patch of its own
        PatchWindows.Window s = PatchWindows.ofDocument(new int[]{4, 4, 2}, 8, 100).next();
        assertArrayEquals(new int[]{1, 3, 4, 2}, s.lengths());
    }
}

package dev.patchwork.patch;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/** Patch ids from lengths (spec §5.1) and the decoder's off-by-one (spec §5.6), on the spec's worked example. */
class PatchesTest {
    // get_blt_input's docstring: x=[3,4,5,6,7,eos,bos,8,9,10,eos,bos,11,12], L=[1,1,3,2,2,1,2,2,1] (sums to N+1 = 15)
    static final int EOS = 2, BOS = 1;
    static final int[] X = {3, 4, 5, 6, 7, EOS, BOS, 8, 9, 10, EOS, BOS, 11, 12};
    static final Patches L = new Patches(new int[]{1, 1, 3, 2, 2, 1, 2, 2, 1});

    @Test
    void encoderPatchIdsOfTheWorkedExample() {
        assertEquals(15, L.totalLength());
        int[] pid = L.patchIds(X.length);
        assertArrayEquals(new int[]{0, 1, 2, 2, 2, 3, 3, 4, 4, 5, 6, 6, 7, 7}, pid);
        // encoder patches [3][4][5,6,7][eos,bos][8,9][10][eos,bos][11,12][virtual]
        assertArrayEquals(new int[]{5, 6, 7}, bytesOf(pid, 2));
        assertArrayEquals(new int[]{EOS, BOS}, bytesOf(pid, 3));
        assertArrayEquals(new int[]{11, 12}, bytesOf(pid, 7));
        assertEquals(0, bytesOf(pid, 8).length, "the last patch holds only the virtual next byte");
    }

    @Test
    void decoderPatchIdsOfTheWorkedExample() {
        int[] dpid = L.decoderPatchIds(X.length);
        // decoder groups [3][4,5,6][7,eos][bos,8][9][10,eos][bos,11][12] use g[0..7]
        assertArrayEquals(new int[]{0, 1, 1, 1, 2, 2, 3, 3, 4, 5, 5, 6, 6, 7}, dpid);
        // the equivalent statement: position i reads g[pid(i+1) − 1], the patch before its target's
        int[] pidAll = L.patchIdOfEveryByte();
        for (int i = 0; i < X.length; i++) assertEquals(pidAll[i + 1] - 1, dpid[i], "position " + i);
    }

    @Test
    void startsCountsAndMean() {
        assertArrayEquals(new int[]{0, 1, 2, 5, 7, 9, 10, 12, 14}, L.starts());
        assertEquals(9, L.count());
        assertEquals(15.0 / 9, L.meanPatchSize(), 1e-12);
        Patches none = new Patches(new int[0]);
        assertEquals(0, none.count());
        assertEquals(0, none.meanPatchSize());
        assertEquals(0, none.patchIdOfEveryByte().length);
    }

    @Test
    void refusesEmptyPatchesAndTooManyPositions() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new Patches(new int[]{1, 0, 2}));
        assertTrue(e.getMessage().contains("patch 1 has length 0"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> L.patchIds(16));
    }

    @Test
    void lengthsAreCopied() {
        int[] a = {1, 2};
        Patches p = new Patches(a);
        a[0] = 7;
        p.lengths()[1] = 9;
        assertArrayEquals(new int[]{1, 2}, p.lengths());
    }

    static int[] bytesOf(int[] pid, int patch) {
        return java.util.stream.IntStream.range(0, pid.length).filter(j -> pid[j] == patch).map(j -> X[j]).toArray();
    }
}

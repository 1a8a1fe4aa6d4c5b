package dev.patchwork.tensor;

import static dev.patchwork.tensor.AttentionTiles.L;
import static dev.patchwork.tensor.AttentionTiles.TILE;

/**
 * Buffers of the vector attention passes, one set per thread, grown on demand and then reused, so calls in the steady
 * state allocate nothing. Work items use the "block" and "tile" buffers of the thread running them; the "call"
 * buffers belong to the thread that called the kernel and are shared read-only with the team during a pass.
 */
final class AttentionScratch {
    private static final ThreadLocal<AttentionScratch> PER_THREAD = ThreadLocal.withInitial(AttentionScratch::new);

    /** This thread's buffers, sized for head dimension {@code hd}. */
    static AttentionScratch get(int hd) {
        AttentionScratch s = PER_THREAD.get();
        if (s.aT.length < hd * L) {
            s.aT = new float[hd * L];
            s.bT = new float[hd * L];
            s.accT = new float[hd * L];
            s.acc2T = new float[hd * L];
        }
        return s;
    }

    // transposed blocks [hd][L] (see AttentionTiles)
    float[] aT = new float[0], bT = new float[0], accT = new float[0], acc2T = new float[0];

    // one tile [TILE][L]: scores, then probabilities or score gradients
    final float[] tile = new float[TILE * L], tile2 = new float[TILE * L];
    // per lane of a block
    final float[] rescale = new float[L], max = new float[L], sum = new float[L], lse = new float[L];
    final float[] delta = new float[L];
    final int[] from = new int[L], to = new int[L];
    int lo, hi, maxFrom, minTo; // see AttentionForward.laneIntervals
    // per row of a tile: where its components start, and its interval, lse and delta (dk/dv pass)
    final int[] rowsA = new int[TILE], rowsB = new int[TILE];
    final int[] rowFrom = new int[TILE], rowTo = new int[TILE];
    final float[] rowLse = new float[TILE], rowDelta = new float[TILE];

    // call buffers: estimated cost prefix sums per block, Σ dout·out per (query, head), queries seeing each key block
    private long[] costPrefix = new long[0];
    private float[] callDelta = new float[0];
    private int[] keyBlockStart = new int[0], keyBlockQueries = new int[0];

    long[] costPrefix(int blocks) {
        if (costPrefix.length < blocks + 1) costPrefix = new long[blocks + 1];
        return costPrefix;
    }

    float[] callDelta(int n) {
        if (callDelta.length < n) callDelta = new float[n];
        return callDelta;
    }

    int[] keyBlockStart(int blocks) {
        if (keyBlockStart.length < blocks + 1) keyBlockStart = new int[blocks + 1];
        return keyBlockStart;
    }

    int[] keyBlockQueries(int n) {
        if (keyBlockQueries.length < n) keyBlockQueries = new int[Math.max(n, keyBlockQueries.length + keyBlockQueries.length / 2)];
        return keyBlockQueries;
    }
}

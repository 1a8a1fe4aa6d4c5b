package dev.patchwork.tensor;

import static dev.patchwork.tensor.AttentionTiles.BLOCK;
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
        if (s.aT.length < hd * BLOCK) {
            s.aT = new float[hd * BLOCK];
            s.bT = new float[hd * BLOCK];
            s.accT = new float[hd * BLOCK];
            s.acc2T = new float[hd * BLOCK];
        }
        if (s.dqTile.length < hd * TILE) s.dqTile = new float[hd * TILE];
        return s;
    }

    // transposed blocks [hd][BLOCK] (see AttentionTiles)
    float[] aT = new float[0], bT = new float[0], accT = new float[0], acc2T = new float[0];

    // the dq of a tile's rows, natural layout [TILE][hd] (see AttentionTiles.naturalTile)
    float[] dqTile = new float[0];
    /** The chunk of work items this thread is running (see AttentionWork): selects the chunk's dq sums. */
    int chunk;

    // one tile [TILE][BLOCK]: scores, then probabilities or score gradients
    final float[] tile = new float[TILE * BLOCK], tile2 = new float[TILE * BLOCK];
    // per lane of a block
    final float[] rescale = new float[BLOCK], max = new float[BLOCK], sum = new float[BLOCK];
    final int[] from = new int[BLOCK], to = new int[BLOCK];
    // the same intervals as floats (exact below 2^24 keys), for float-domain masks (see AttentionTiles.sees)
    final float[] fromF = new float[BLOCK], toF = new float[BLOCK];
    int lo, hi, maxFrom, minTo; // see AttentionForward.laneIntervals
    // per row of a tile: where its components start, and its interval, lse and delta (backward pass)
    final int[] rowsA = new int[TILE], rowsB = new int[TILE];
    final int[] rowFrom = new int[TILE], rowTo = new int[TILE];
    final float[] rowLse = new float[TILE], rowDelta = new float[TILE];
    final int[] rowQuery = new int[TILE]; // the query of each row, -1 for a padding row

    // call buffers: estimated cost prefix sums per block, Σ dout·out per (query, head), queries seeing each key block,
    // and the dq sums of each chunk of the backward pass
    private long[] costPrefix = new long[0];
    private float[] callDelta = new float[0];
    private int[] keyBlockStart = new int[0], keyBlockQueries = new int[0];
    private float[][] dqChunks = new float[0][];
    private int[] querySpans = new int[0];

    long[] costPrefix(int blocks) {
        if (costPrefix.length < blocks + 1) costPrefix = new long[blocks + 1];
        return costPrefix;
    }

    float[] callDelta(int n) {
        if (callDelta.length < n) callDelta = new float[n];
        return callDelta;
    }

    /**
     * {@code chunks} buffers, buffer c holding at least {@code (span[2c+1] − span[2c]) · width} floats, that many of
     * each zeroed.
     */
    float[][] dqChunks(int chunks, int[] span, int width) {
        if (dqChunks.length < chunks) dqChunks = java.util.Arrays.copyOf(dqChunks, chunks);
        for (int c = 0; c < chunks; c++) {
            int n = (span[2 * c + 1] - span[2 * c]) * width;
            if (dqChunks[c] == null || dqChunks[c].length < n) dqChunks[c] = new float[n];
            else java.util.Arrays.fill(dqChunks[c], 0, n, 0f);
        }
        return dqChunks;
    }

    int[] querySpans(int chunks) {
        if (querySpans.length < 2 * chunks) querySpans = new int[2 * chunks];
        return querySpans;
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

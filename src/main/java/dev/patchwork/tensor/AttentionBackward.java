package dev.patchwork.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

import java.util.Arrays;

import static dev.patchwork.tensor.AttentionTiles.BLOCK;
import static dev.patchwork.tensor.AttentionTiles.F;
import static dev.patchwork.tensor.AttentionTiles.I;
import static dev.patchwork.tensor.AttentionTiles.L;
import static dev.patchwork.tensor.AttentionTiles.TILE;

/**
 * Vector backward pass of {@link AttentionKernel}, in two passes that each own their outputs, so threads never add
 * into the same gradient and the result does not depend on the thread count.
 * <ol>
 *   <li>dq pass, over (head, block of queries in lanes): recomputes p = exp(s − lse) tile by tile from the saved
 *       log-sum-exp, dp = dout·v, ds = p·(dp − Σ dout·out), and accumulates dq = scale·Σ ds·k. It also stores
 *       Σ dout·out per (query, head) for the second pass.</li>
 *   <li>dk/dv pass, over (kv head, block of keys in lanes): the same p and ds for every query that sees any key of the
 *       block (a list built once per call, since intervals may overlap arbitrarily), summed over the heads of the kv
 *       group: dv = Σ p·dout, dk = scale·Σ ds·q.</li>
 * </ol>
 * Recomputing the scores in both passes costs 7 instead of 5 head-dim products per visible (query, key) pair, the price
 * of race-free, order-fixed accumulation with every lane busy for any head dimension.
 */
final class AttentionBackward {
    private AttentionBackward() {}

    static void run(AttentionKernel.Shape s, float[] q, float[] k, float[] v, int[] keyFrom, int[] keyTo, float scale,
                    float[] out, float[] lse, float[] dout, float[] dq, float[] dk, float[] dv) {
        int hd = s.headDim(), queries = s.queries();
        AttentionScratch call = AttentionScratch.get(hd);
        float[] delta = call.callDelta(queries * s.heads());

        int queryBlocks = (queries + BLOCK - 1) / BLOCK;
        int keys = AttentionKernel.keyRows(queries, keyFrom, keyTo);
        int keyBlocks = (keys + BLOCK - 1) / BLOCK;
        long[] prefix = call.costPrefix(Math.max(queryBlocks, keyBlocks));

        AttentionForward.queryBlockCosts(queries, keyFrom, keyTo, prefix);
        AttentionWork.run(s.heads(), queryBlocks, prefix, 3L * TILE * BLOCK * hd, hd, (h, b, w) ->
                queryBlock(s, q, k, v, keyFrom, keyTo, scale, out, lse, dout, dq, delta, h, b * BLOCK, w));

        if (keys == 0) return; // every interval empty: outputs were constants, no gradient reaches k or v
        int[] start = call.keyBlockStart(keyBlocks);
        int[] list = listQueriesPerKeyBlock(queries, keyFrom, keyTo, keyBlocks, start, call);
        int group = s.heads() / s.kvHeads();
        prefix[0] = 0;
        for (int b = 0; b < keyBlocks; b++)
            prefix[b + 1] = prefix[b] + 1 + (long) group * ((start[b + 1] - start[b] + TILE - 1) / TILE);
        AttentionWork.run(s.kvHeads(), keyBlocks, prefix, 4L * TILE * BLOCK * hd, hd, (g, b, w) ->
                keyBlock(s, q, k, v, keyFrom, keyTo, scale, lse, dout, dk, dv, delta, start, list, keys, g, b, w));
    }

    /**
     * For each block of {@link AttentionTiles#BLOCK} keys, the queries (ascending) whose non-empty interval meets it:
     * block {@code b}'s are {@code list[start[b] .. start[b+1])}.
     */
    static int[] listQueriesPerKeyBlock(int queries, int[] keyFrom, int[] keyTo, int keyBlocks, int[] start,
                                        AttentionScratch call) {
        Arrays.fill(start, 0, keyBlocks + 1, 0);
        for (int i = 0; i < queries; i++)
            if (keyFrom[i] < keyTo[i])
                for (int b = keyFrom[i] / BLOCK; b <= (keyTo[i] - 1) / BLOCK; b++) start[b + 1]++;
        long total = 0;
        for (int b = 0; b < keyBlocks; b++) {
            total += start[b + 1];
            start[b + 1] = (int) Math.min(total, Integer.MAX_VALUE);
        }
        if (total > Integer.MAX_VALUE - 16)
            throw new IllegalArgumentException("attention backward: " + total + " (query, key block) pairs exceed an "
                    + "int index; split the call into fewer queries");
        int[] list = call.keyBlockQueries((int) total);
        // fill with start[b] as the cursor of block b, then shift the cursors back to block starts
        for (int i = 0; i < queries; i++)
            if (keyFrom[i] < keyTo[i])
                for (int b = keyFrom[i] / BLOCK; b <= (keyTo[i] - 1) / BLOCK; b++) list[start[b]++] = i;
        System.arraycopy(start, 0, start, 1, keyBlocks);
        start[0] = 0;
        return list;
    }

    /** dq pass for head {@code h} and the queries {@code [i0, i0 + BLOCK)} (in lanes). */
    private static void queryBlock(AttentionKernel.Shape s, float[] q, float[] k, float[] v, int[] keyFrom,
                                   int[] keyTo, float scale, float[] out, float[] lse, float[] dout, float[] dq,
                                   float[] delta, int h, int i0, AttentionScratch w) {
        int hd = s.headDim(), heads = s.heads(), rows = Math.min(BLOCK, s.queries() - i0);
        int kvh = h / (heads / s.kvHeads());
        AttentionForward.laneIntervals(s.queries(), keyFrom, keyTo, i0, w);
        int lo = w.lo, hi = w.hi, maxFrom = w.maxFrom, minTo = w.minTo;
        for (int lane = 0; lane < BLOCK; lane++) {
            int i = i0 + Math.min(lane, rows - 1), ob = s.outOff() + i * s.outStride() + h * hd;
            float dsum = 0f;
            for (int d = 0; d < hd; d++) dsum += dout[ob + d] * out[ob + d];
            w.delta[lane] = dsum;
            // an empty lane is masked on every key; 0 keeps exp(s − lse) finite before the mask zeroes it
            w.lse[lane] = w.from[lane] < w.to[lane] ? lse[i * heads + h] : 0f;
            if (lane < rows) delta[i * heads + h] = dsum;
        }
        if (lo >= hi) return; // every lane empty: dq gets nothing
        AttentionForward.transposeRows(q, s.qOff() + h * hd, s.qStride(), i0, rows, hd, scale, w.aT);
        AttentionForward.transposeRows(dout, s.outOff() + h * hd, s.outStride(), i0, rows, hd, 1f, w.bT);
        Arrays.fill(w.accT, 0, hd * BLOCK, 0f);
        int kBase = s.kOff() + kvh * hd, vBase = s.vOff() + kvh * hd;
        for (int j = lo & -TILE; j < hi; j += TILE) {
            boolean allSee = j >= maxFrom && j + TILE <= minTo;
            if (!allSee && !AttentionForward.anyLaneSees(w, j)) continue;
            AttentionForward.keyTileRows(j, lo, hi, kBase, s.kStride(), w.rowsA);
            AttentionForward.keyTileRows(j, lo, hi, vBase, s.vStride(), w.rowsB);
            AttentionTiles.dotTile(w.aT, k, w.rowsA, hd, w.tile);  // scores
            AttentionTiles.dotTile(w.bT, v, w.rowsB, hd, w.tile2); // dout·v
            queryLaneScoreGradients(w, j, allSee);
            AttentionTiles.accumulateTile(w.accT, k, w.rowsA, hd, w.tile, null);
        }
        for (int lane = 0; lane < rows; lane++) {
            if (w.from[lane] >= w.to[lane]) continue;
            int qb = s.qOff() + (i0 + lane) * s.qStride() + h * hd;
            for (int d = 0; d < hd; d++) dq[qb + d] += scale * w.accT[d * BLOCK + lane];
        }
    }

    /** dk/dv pass for kv head {@code g} and the keys {@code [kb·BLOCK, kb·BLOCK + BLOCK)} (in lanes). */
    private static void keyBlock(AttentionKernel.Shape s, float[] q, float[] k, float[] v, int[] keyFrom,
                                 int[] keyTo, float scale, float[] lse, float[] dout, float[] dk, float[] dv,
                                 float[] delta, int[] start, int[] list, int keys, int g, int kb,
                                 AttentionScratch w) {
        int first = start[kb], n = start[kb + 1] - first;
        if (n == 0) return;
        int hd = s.headDim(), heads = s.heads(), group = heads / s.kvHeads();
        int j0 = kb * BLOCK, rows = Math.min(BLOCK, keys - j0);
        AttentionForward.transposeRows(k, s.kOff() + g * hd, s.kStride(), j0, rows, hd, 1f, w.aT);
        AttentionForward.transposeRows(v, s.vOff() + g * hd, s.vStride(), j0, rows, hd, 1f, w.bT);
        Arrays.fill(w.accT, 0, hd * BLOCK, 0f);  // dk, unscaled
        Arrays.fill(w.acc2T, 0, hd * BLOCK, 0f); // dv
        for (int h = g * group; h < (g + 1) * group; h++) {
            for (int u0 = 0; u0 < n; u0 += TILE) {
                for (int t = 0; t < TILE; t++) {
                    // a short last tile repeats its last query with an empty interval: it adds exact zeros
                    boolean live = u0 + t < n;
                    int i = list[first + Math.min(u0 + t, n - 1)];
                    w.rowsA[t] = s.qOff() + i * s.qStride() + h * hd;
                    w.rowsB[t] = s.outOff() + i * s.outStride() + h * hd;
                    w.rowFrom[t] = live ? keyFrom[i] : 0;
                    w.rowTo[t] = live ? keyTo[i] : 0;
                    w.rowLse[t] = lse[i * heads + h];
                    w.rowDelta[t] = delta[i * heads + h];
                }
                AttentionTiles.dotTile(w.aT, q, w.rowsA, hd, w.tile);     // q·k
                AttentionTiles.dotTile(w.bT, dout, w.rowsB, hd, w.tile2); // dout·v
                keyLaneScoreGradients(w, j0, scale);
                AttentionTiles.accumulateTile(w.acc2T, dout, w.rowsB, hd, w.tile2, null); // dv += p·dout
                AttentionTiles.accumulateTile(w.accT, q, w.rowsA, hd, w.tile, null);      // dk += ds·q
            }
        }
        for (int lane = 0; lane < rows; lane++) {
            int kRow = s.kOff() + (j0 + lane) * s.kStride() + g * hd;
            int vRow = s.vOff() + (j0 + lane) * s.vStride() + g * hd;
            for (int d = 0; d < hd; d++) {
                dk[kRow + d] += scale * w.accT[d * BLOCK + lane];
                dv[vRow + d] += w.acc2T[d * BLOCK + lane];
            }
        }
    }

    /**
     * Lanes = queries: turns the scores in {@code w.tile} into ds = p·(dp − delta) with p = exp(score − lse), masked to
     * 0 where a lane cannot see the key; {@code w.tile2} holds dp = dout·v.
     */
    private static void queryLaneScoreGradients(AttentionScratch w, int j, boolean allSee) {
        for (int o = 0; o < BLOCK; o += L) { // the two vectors of the block
            FloatVector from = FloatVector.fromArray(F, w.fromF, o), to = FloatVector.fromArray(F, w.toF, o);
            FloatVector lse = FloatVector.fromArray(F, w.lse, o), delta = FloatVector.fromArray(F, w.delta, o);
            for (int t = 0; t < TILE; t++) {
                int at = t * BLOCK + o;
                FloatVector p = AttentionTiles.exp(FloatVector.fromArray(F, w.tile, at).sub(lse));
                // the lanes whose interval [from, to) holds key j + t (written out here, see AttentionTiles.sees)
                if (!allSee) p = FloatVector.zero(F).blend(p, from.compare(VectorOperators.LE, (float) (j + t))
                        .and(to.compare(VectorOperators.GT, (float) (j + t))));
                p.mul(FloatVector.fromArray(F, w.tile2, at).sub(delta)).intoArray(w.tile, at);
            }
        }
    }

    /**
     * Lanes = keys {@code j0 + lane}, tile rows = queries: turns the raw q·k in {@code w.tile} into
     * ds = p·(dp − delta) and leaves p in {@code w.tile2} (which held dp = dout·v), both masked to 0 outside each
     * query's interval.
     */
    private static void keyLaneScoreGradients(AttentionScratch w, int j0, float scale) {
        for (int o = 0; o < BLOCK; o += L) { // the two vectors of the block
            FloatVector keyIndex = FloatVector.zero(F).addIndex(1).add(j0 + o);
            for (int t = 0; t < TILE; t++) {
                int at = t * BLOCK + o;
                FloatVector p = AttentionTiles.exp(FloatVector.fromArray(F, w.tile, at).mul(scale).sub(w.rowLse[t]));
                if (w.rowFrom[t] > j0 + o || w.rowTo[t] < j0 + o + L)
                    p = FloatVector.zero(F).blend(p, keyIndex.compare(VectorOperators.GE, (float) w.rowFrom[t])
                            .and(keyIndex.compare(VectorOperators.LT, (float) w.rowTo[t]))); // keys in [from, to)
                p.mul(FloatVector.fromArray(F, w.tile2, at).sub(w.rowDelta[t])).intoArray(w.tile, at);
                p.intoArray(w.tile2, at);
            }
        }
    }
}

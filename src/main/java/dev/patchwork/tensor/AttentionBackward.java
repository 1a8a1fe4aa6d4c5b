package dev.patchwork.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.util.Arrays;

import static dev.patchwork.tensor.AttentionTiles.BLOCK;
import static dev.patchwork.tensor.AttentionTiles.F;
import static dev.patchwork.tensor.AttentionTiles.L;
import static dev.patchwork.tensor.AttentionTiles.TILE;

/**
 * Vector backward pass of {@link AttentionKernel}: one pass over (kv head, block of keys in lanes), flash-attention 2
 * style.
 * <ol>
 *   <li>Σ dout·out per (query, head), a plain pass over the queries.</li>
 *   <li>For every query that sees any key of the block (a list built once per call, since intervals may overlap
 *       arbitrarily), tile by tile and summed over the heads of the kv group: p = exp(s − lse) recomputed from the
 *       saved log-sum-exp, dp = dout·v, ds = p·(dp − Σ dout·out); dv = Σ p·dout and dk = scale·Σ ds·q accumulate in
 *       the block's lanes, and each tile's dq = Σ ds·k (a natural-layout product, {@link AttentionTiles#naturalTile})
 *       is added into a dq buffer of the chunk of work items running it (covering only the queries its key blocks
 *       reach: the buffers total about the queries plus a window per chunk).</li>
 *   <li>dq += scale·(the chunks' buffers, summed in chunk order).</li>
 * </ol>
 * This is 5 head-dim products per visible (query, key) pair. The previous design recomputed p and ds in a second pass
 * over query blocks so that dq had a single writer: 7 products and twice the exponentials, which made the backward
 * three times the forward (now 2.2–2.4 times). Every dk and dv has one writer; the per-chunk dq buffers keep the result
 * independent of scheduling, and for a fixed thread count bit-identical run to run. Across thread counts dq differs by
 * float reassociation (the chunks' sums are added in a different grouping), as the README states.
 */
final class AttentionBackward {
    private AttentionBackward() {}

    static void run(AttentionKernel.Shape s, float[] q, float[] k, float[] v, int[] keyFrom, int[] keyTo, float scale,
                    float[] out, float[] lse, float[] dout, float[] dq, float[] dk, float[] dv) {
        int hd = s.headDim(), queries = s.queries(), heads = s.heads();
        AttentionScratch call = AttentionScratch.get(hd);
        float[] delta = call.callDelta(queries * heads);
        outputGradientDots(s, out, dout, delta);

        int keys = AttentionKernel.keyRows(queries, keyFrom, keyTo);
        if (keys == 0) return; // every interval empty: outputs were constants, no gradient reaches q, k or v
        int keyBlocks = (keys + BLOCK - 1) / BLOCK;
        long[] prefix = call.costPrefix(keyBlocks);
        int[] start = call.keyBlockStart(keyBlocks);
        int[] list = listQueriesPerKeyBlock(queries, keyFrom, keyTo, keyBlocks, start, call);
        int group = heads / s.kvHeads();
        prefix[0] = 0;
        for (int b = 0; b < keyBlocks; b++)
            prefix[b + 1] = prefix[b] + 1 + (long) group * ((start[b + 1] - start[b] + TILE - 1) / TILE);
        long fmasPerUnit = 5L * TILE * BLOCK * hd;
        int chunks = AttentionWork.chunks(s.kvHeads(), keyBlocks, prefix, fmasPerUnit);
        int[] span = querySpans(s.kvHeads(), keyBlocks, prefix, start, list, chunks, call);
        float[][] dqChunks = call.dqChunks(chunks, span, heads * hd);
        AttentionWork.run(s.kvHeads(), keyBlocks, prefix, fmasPerUnit, hd, (g, b, w) ->
                keyBlock(s, q, k, v, keyFrom, keyTo, scale, lse, dout, dk, dv, delta, start, list, keys, g, b,
                        dqChunks[w.chunk], span[2 * w.chunk], w));
        addQueryGradients(s, scale, dqChunks, span, chunks, dq);
    }

    /**
     * The queries whose dq each chunk of work items adds to: {@code [span[2c], span[2c+1])} for chunk c, the union of
     * its key blocks' query lists. A chunk's dq sums cover only that span, so they total about the queries plus one
     * window per chunk, not a full copy of dq per thread.
     */
    private static int[] querySpans(int groups, int keyBlocks, long[] prefix, int[] start, int[] list, int chunks,
                                    AttentionScratch call) {
        int[] span = call.querySpans(chunks);
        for (int c = 0; c < chunks; c++) {
            int lo = Integer.MAX_VALUE, hi = Integer.MIN_VALUE;
            int x1 = AttentionWork.firstItem(c + 1, chunks, groups, keyBlocks, prefix);
            for (int x = AttentionWork.firstItem(c, chunks, groups, keyBlocks, prefix); x < x1; x++) {
                int b = AttentionWork.block(x, groups);
                if (start[b] == start[b + 1]) continue;
                lo = Math.min(lo, list[start[b]]); // lists are ascending
                hi = Math.max(hi, list[start[b + 1] - 1] + 1);
            }
            span[2 * c] = lo < hi ? lo : 0;
            span[2 * c + 1] = lo < hi ? hi : 0;
        }
        return span;
    }

    /**
     * {@code delta[i*heads + h] = Σ_d dout·out} of query i, head h: whole vectors of components summed lane-wise and
     * then across lanes, the ragged rest in order of d.
     */
    private static void outputGradientDots(AttentionKernel.Shape s, float[] out, float[] dout, float[] delta) {
        int hd = s.headDim(), heads = s.heads(), whole = hd / L * L;
        Parallel.RangeBody body = (i0, i1) -> {
            for (int i = i0; i < i1; i++) {
                for (int h = 0; h < heads; h++) {
                    int ob = s.outOff() + i * s.outStride() + h * hd;
                    float sum = 0f;
                    if (whole > 0) {
                        FloatVector acc = FloatVector.zero(F);
                        for (int d = 0; d < whole; d += L)
                            acc = FloatVector.fromArray(F, dout, ob + d).fma(FloatVector.fromArray(F, out, ob + d), acc);
                        sum = VectorMath.sum(acc);
                    }
                    for (int d = whole; d < hd; d++) sum += dout[ob + d] * out[ob + d];
                    delta[i * heads + h] = sum;
                }
            }
        };
        long work = (long) s.queries() * heads * hd;
        Parallel.forRange(s.queries(), work < SERIAL_BELOW ? 1 : Parallel.available(), body);
    }

    /** dq(i, h) += scale · Σ_c chunk c's sum, over the chunks whose span holds query i, added in chunk order. */
    private static void addQueryGradients(AttentionKernel.Shape s, float scale, float[][] dqChunks, int[] span,
                                          int chunks, float[] dq) {
        int hd = s.headDim(), heads = s.heads(), width = heads * hd;
        Parallel.RangeBody body = (i0, i1) -> {
            for (int i = i0; i < i1; i++) {
                int first = -1;
                for (int c = 0; c < chunks && first < 0; c++) if (span[2 * c] <= i && i < span[2 * c + 1]) first = c;
                if (first < 0) continue; // no key reaches this query
                int qb = s.qOff() + i * s.qStride(), x = 0;
                // whole vectors, then the rest: the same operations on each value in the same order
                for (; x <= width - L; x += L) {
                    FloatVector sum = FloatVector.fromArray(F, dqChunks[first], (i - span[2 * first]) * width + x);
                    for (int c = first + 1; c < chunks; c++)
                        if (span[2 * c] <= i && i < span[2 * c + 1])
                            sum = sum.add(FloatVector.fromArray(F, dqChunks[c], (i - span[2 * c]) * width + x));
                    FloatVector.fromArray(F, dq, qb + x).add(sum.mul(scale)).intoArray(dq, qb + x);
                }
                for (; x < width; x++) {
                    float sum = dqChunks[first][(i - span[2 * first]) * width + x];
                    for (int c = first + 1; c < chunks; c++)
                        if (span[2 * c] <= i && i < span[2 * c + 1]) sum += dqChunks[c][(i - span[2 * c]) * width + x];
                    dq[qb + x] += scale * sum;
                }
            }
        };
        long work = (long) s.queries() * width * chunks;
        Parallel.forRange(s.queries(), work < SERIAL_BELOW ? 1 : Parallel.available(), body);
    }

    /** Below this many element operations a plain pass over the queries runs on the calling thread. */
    private static final long SERIAL_BELOW = 1 << 16;

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

    /**
     * Backward for kv head {@code g} and the keys {@code [kb·BLOCK, kb·BLOCK + BLOCK)} (in lanes): dk and dv of these
     * keys, and the dq terms of every query that sees them, added into {@code dqSum} (this chunk's, whose row 0 is
     * query {@code dqFirst}).
     */
    private static void keyBlock(AttentionKernel.Shape s, float[] q, float[] k, float[] v, int[] keyFrom,
                                 int[] keyTo, float scale, float[] lse, float[] dout, float[] dk, float[] dv,
                                 float[] delta, int[] start, int[] list, int keys, int g, int kb, float[] dqSum,
                                 int dqFirst, AttentionScratch w) {
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
                    w.rowQuery[t] = live ? i : -1;
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
                AttentionTiles.naturalTile(w.tile, k, s.kOff() + j0 * s.kStride() + g * hd, s.kStride(), rows, hd,
                        w.dqTile);                                                         // dq = ds·k
                for (int t = 0; t < TILE; t++) {
                    if (w.rowQuery[t] < 0) continue;
                    int base = ((w.rowQuery[t] - dqFirst) * heads + h) * hd, o = t * hd, d = 0;
                    for (; d <= hd - L; d += L) {
                        FloatVector.fromArray(F, dqSum, base + d).add(FloatVector.fromArray(F, w.dqTile, o + d))
                                .intoArray(dqSum, base + d);
                    }
                    for (; d < hd; d++) dqSum[base + d] += w.dqTile[o + d];
                }
            }
        }
        if (AttentionForward.transposeInSquares(rows, hd)) {
            for (int i = 0; i < hd * BLOCK; i += L) FloatVector.fromArray(F, w.accT, i).mul(scale).intoArray(w.accT, i);
            addTransposed(w.accT, hd, dk, s.kOff() + j0 * s.kStride() + g * hd, s.kStride(), w.tile);
            addTransposed(w.acc2T, hd, dv, s.vOff() + j0 * s.vStride() + g * hd, s.vStride(), w.tile);
            return;
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
     * {@code dst[off + lane*stride + d] += accT[d*BLOCK + lane]} for a full block, moved out of the lanes in 16 × 16
     * squares through {@code square} (256 floats).
     */
    private static void addTransposed(float[] accT, int hd, float[] dst, int off, int stride, float[] square) {
        for (int db = 0; db < hd; db += 16) {
            for (int lb = 0; lb < BLOCK; lb += 16) {
                Transpose16.block(accT, db * BLOCK + lb, BLOCK, square, 0, 16);
                for (int r = 0; r < 16; r++) {
                    int o = off + (lb + r) * stride + db;
                    FloatVector.fromArray(F, dst, o).add(FloatVector.fromArray(F, square, 16 * r)).intoArray(dst, o);
                }
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

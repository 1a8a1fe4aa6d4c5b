package dev.patchwork.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

import java.util.Arrays;

import static dev.patchwork.tensor.AttentionTiles.F;
import static dev.patchwork.tensor.AttentionTiles.L;
import static dev.patchwork.tensor.AttentionTiles.TILE;

/**
 * Vector attention for a few queries, each on its own (a decoding step: one new query against the KV cache). The
 * blocked forward puts queries in lanes and would leave all lanes but one idle here; this one puts the head dimension
 * in lanes instead (with a scalar tail past the last whole vector) and reduces one dot product per key.
 * Work items are (head, query), in parallel.
 *
 * <p>Same function as {@link AttentionForward} and the scalar twin, but not the same summation order: results agree to
 * float rounding, not bit for bit.
 */
final class AttentionDecode {
    private AttentionDecode() {}

    static void run(AttentionKernel.Shape s, float[] q, float[] k, float[] v, int[] keyFrom, int[] keyTo, float scale,
                    float[] out, float[] lse) {
        int queries = s.queries();
        long[] prefix = AttentionScratch.get(s.headDim()).costPrefix(queries);
        prefix[0] = 0;
        for (int i = 0; i < queries; i++)
            prefix[i + 1] = prefix[i] + 1 + Math.max(0, keyTo[i] - keyFrom[i]) / TILE;
        // a cost unit is TILE keys of one query, two head-dim products each
        AttentionWork.run(s.heads(), queries, prefix, 2L * TILE * s.headDim(), s.headDim(),
                (h, i, w) -> query(s, q, k, v, keyFrom[i], keyTo[i], scale, out, lse, h, i, w));
    }

    private static void query(AttentionKernel.Shape s, float[] q, float[] k, float[] v, int from, int to, float scale,
                              float[] out, float[] lse, int h, int i, AttentionScratch w) {
        int hd = s.headDim(), kvh = h / (s.heads() / s.kvHeads());
        int ob = s.outOff() + i * s.outStride() + h * hd, qb = s.qOff() + i * s.qStride() + h * hd;
        if (from >= to) { // empty interval: output 0 and lse −∞, as the other kernels
            Arrays.fill(out, ob, ob + hd, 0f);
            if (lse != null) lse[i * s.heads() + h] = Float.NEGATIVE_INFINITY;
            return;
        }
        float[] qRow = w.aT, acc = w.accT; // hd values each, the head dim in lanes
        for (int d = 0; d < hd; d++) qRow[d] = q[qb + d] * scale;
        Arrays.fill(acc, 0, hd, 0f);
        float max = Float.NEGATIVE_INFINITY, sum = 0f;
        int kBase = s.kOff() + kvh * hd, vBase = s.vOff() + kvh * hd;
        for (int j = from; j < to; j += TILE) {
            int n = Math.min(TILE, to - j);
            for (int t = 0; t < TILE; t++) { // a short last tile repeats its last key, with probability 0
                int key = j + Math.min(t, n - 1);
                w.rowsA[t] = kBase + key * s.kStride();
                w.rowsB[t] = vBase + key * s.vStride();
            }
            scoreTile(qRow, k, w.rowsA, hd, w.tile);
            float tileMax = Float.NEGATIVE_INFINITY;
            for (int t = 0; t < n; t++) tileMax = Math.max(tileMax, w.tile[t]);
            float newMax = Math.max(max, tileMax);
            for (int t = n; t < TILE; t++) w.tile[t] = Float.NEGATIVE_INFINITY;
            float rescale = expTile(w.tile, newMax, max);
            float tileSum = 0f;
            for (int t = 0; t < TILE; t++) tileSum += w.tile[t];
            sum = sum * rescale + tileSum;
            accumulateRows(acc, v, w.rowsB, hd, w.tile, rescale);
            max = newMax;
        }
        float inv = 1f / sum;
        for (int d = 0; d < hd; d++) out[ob + d] = acc[d] * inv;
        if (lse != null) lse[i * s.heads() + h] = max + (float) Math.log(sum);
    }

    /** {@code dst[t] = Σ_d qRow[d] · x[rows[t] + d]} for the {@link AttentionTiles#TILE} rows: 8 dots, 8 reductions. */
    private static void scoreTile(float[] qRow, float[] x, int[] rows, int hd, float[] dst) {
        int r0 = rows[0], r1 = rows[1], r2 = rows[2], r3 = rows[3];
        int r4 = rows[4], r5 = rows[5], r6 = rows[6], r7 = rows[7];
        FloatVector s0 = FloatVector.zero(F), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
        int full = F.loopBound(hd);
        for (int d = 0; d < full; d += L) {
            FloatVector a = FloatVector.fromArray(F, qRow, d);
            s0 = a.fma(FloatVector.fromArray(F, x, r0 + d), s0);
            s1 = a.fma(FloatVector.fromArray(F, x, r1 + d), s1);
            s2 = a.fma(FloatVector.fromArray(F, x, r2 + d), s2);
            s3 = a.fma(FloatVector.fromArray(F, x, r3 + d), s3);
            s4 = a.fma(FloatVector.fromArray(F, x, r4 + d), s4);
            s5 = a.fma(FloatVector.fromArray(F, x, r5 + d), s5);
            s6 = a.fma(FloatVector.fromArray(F, x, r6 + d), s6);
            s7 = a.fma(FloatVector.fromArray(F, x, r7 + d), s7);
        }
        dst[0] = VectorMath.sum(s0);
        dst[1] = VectorMath.sum(s1);
        dst[2] = VectorMath.sum(s2);
        dst[3] = VectorMath.sum(s3);
        dst[4] = VectorMath.sum(s4);
        dst[5] = VectorMath.sum(s5);
        dst[6] = VectorMath.sum(s6);
        dst[7] = VectorMath.sum(s7);
        for (int t = 0; t < TILE; t++) { // scalar tail (all of a head dim below the vector length)
            float tail = 0f;
            for (int d = full; d < hd; d++) tail += qRow[d] * x[rows[t] + d];
            dst[t] += tail;
        }
    }

    /**
     * Replaces the {@link AttentionTiles#TILE} scores by exp(score − pivot) and returns exp(oldMax − pivot), the
     * pivot being {@code newMax} (never −∞ here: the tile has a visible key).
     */
    private static float expTile(float[] tile, float newMax, float oldMax) {
        // the scratch tile is longer than TILE + L, so whole vectors can be read; lanes past TILE are never used
        for (int o = 0; o < TILE; o += L)
            AttentionTiles.exp(FloatVector.fromArray(F, tile, o).sub(newMax)).intoArray(tile, o);
        return oldMax == Float.NEGATIVE_INFINITY ? 0f : (float) Math.exp(oldMax - newMax);
    }

    /** {@code acc[d] = acc[d]·c + Σ_t p[t] · x[rows[t] + d]}, the head dim in lanes. */
    private static void accumulateRows(float[] acc, float[] x, int[] rows, int hd, float[] p, float c) {
        int r0 = rows[0], r1 = rows[1], r2 = rows[2], r3 = rows[3];
        int r4 = rows[4], r5 = rows[5], r6 = rows[6], r7 = rows[7];
        FloatVector p0 = FloatVector.broadcast(F, p[0]), p1 = FloatVector.broadcast(F, p[1]);
        FloatVector p2 = FloatVector.broadcast(F, p[2]), p3 = FloatVector.broadcast(F, p[3]);
        FloatVector p4 = FloatVector.broadcast(F, p[4]), p5 = FloatVector.broadcast(F, p[5]);
        FloatVector p6 = FloatVector.broadcast(F, p[6]), p7 = FloatVector.broadcast(F, p[7]);
        int full = F.loopBound(hd);
        for (int d = 0; d < full; d += L) {
            FloatVector o = FloatVector.fromArray(F, acc, d).mul(c);
            o = FloatVector.fromArray(F, x, r0 + d).fma(p0, o);
            o = FloatVector.fromArray(F, x, r1 + d).fma(p1, o);
            o = FloatVector.fromArray(F, x, r2 + d).fma(p2, o);
            o = FloatVector.fromArray(F, x, r3 + d).fma(p3, o);
            o = FloatVector.fromArray(F, x, r4 + d).fma(p4, o);
            o = FloatVector.fromArray(F, x, r5 + d).fma(p5, o);
            o = FloatVector.fromArray(F, x, r6 + d).fma(p6, o);
            o = FloatVector.fromArray(F, x, r7 + d).fma(p7, o);
            o.intoArray(acc, d);
        }
        for (int d = full; d < hd; d++) { // scalar tail
            float o = acc[d] * c;
            for (int t = 0; t < TILE; t++) o += p[t] * x[rows[t] + d];
            acc[d] = o;
        }
    }
}

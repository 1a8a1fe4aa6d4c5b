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
 * Vector forward pass of {@link AttentionKernel}: flash-attention style over blocks of {@link AttentionTiles#BLOCK}
 * queries (one per lane) and tiles of {@link AttentionTiles#TILE} keys, with an online softmax per lane. Work items
 * are (head, query block); each writes only its own outputs.
 *
 * <p>Tiles start at multiples of {@code TILE} in absolute key positions, and a tile that a lane cannot see leaves that
 * lane's state exactly unchanged, so each query's result is independent of its block-mates (see {@link AttentionTiles}).
 */
final class AttentionForward {
    private AttentionForward() {}

    static void run(AttentionKernel.Shape s, float[] q, float[] k, float[] v, int[] keyFrom, int[] keyTo, float scale,
                    float[] out, float[] lse) {
        int blocks = (s.queries() + BLOCK - 1) / BLOCK;
        long[] prefix = AttentionScratch.get(s.headDim()).costPrefix(blocks);
        queryBlockCosts(s.queries(), keyFrom, keyTo, prefix);
        // a cost unit is one tile: TILE × BLOCK pairs, two head-dim products each
        AttentionWork.run(s.heads(), blocks, prefix, 2L * TILE * BLOCK * s.headDim(), s.headDim(),
                (h, b, w) -> block(s, q, k, v, keyFrom, keyTo, scale, out, lse, h, b * BLOCK, w));
    }

    /** Prefix sums of the estimated cost of each query block: 1 + the key tiles its lanes' intervals span. */
    private static void queryBlockCosts(int queries, int[] keyFrom, int[] keyTo, long[] prefix) {
        int blocks = (queries + BLOCK - 1) / BLOCK;
        prefix[0] = 0;
        for (int b = 0; b < blocks; b++) {
            int lo = Integer.MAX_VALUE, hi = Integer.MIN_VALUE;
            for (int i = b * BLOCK; i < Math.min(queries, (b + 1) * BLOCK); i++) {
                if (keyFrom[i] >= keyTo[i]) continue;
                lo = Math.min(lo, keyFrom[i]);
                hi = Math.max(hi, keyTo[i]);
            }
            long tiles = lo < hi ? ((long) hi - (lo & -TILE) + TILE - 1) / TILE : 0;
            prefix[b + 1] = prefix[b] + 1 + tiles;
        }
    }

    /**
     * Reads the key intervals of the block starting at query {@code i0} into {@code w.from/w.to}, with their union
     * {@code [w.lo, w.hi)} (empty intervals excluded) and {@code w.maxFrom}, {@code w.minTo}: a tile inside
     * {@code [maxFrom, minTo)} is seen whole by every lane and needs no mask.
     */
    static void laneIntervals(int queries, int[] keyFrom, int[] keyTo, int i0, AttentionScratch w) {
        int last = Math.min(BLOCK, queries - i0) - 1;
        int lo = Integer.MAX_VALUE, hi = Integer.MIN_VALUE, maxFrom = Integer.MIN_VALUE, minTo = Integer.MAX_VALUE;
        for (int lane = 0; lane < BLOCK; lane++) {
            // padding lanes repeat the last query so the "every lane sees the whole tile" fast path still applies
            int i = i0 + Math.min(lane, last), from = keyFrom[i], to = keyTo[i];
            w.from[lane] = from;
            w.to[lane] = to;
            w.fromF[lane] = from;
            w.toF[lane] = to;
            maxFrom = Math.max(maxFrom, from);
            minTo = Math.min(minTo, to);
            if (from < to) {
                lo = Math.min(lo, from);
                hi = Math.max(hi, to);
            }
        }
        w.lo = lo;
        w.hi = hi;
        w.maxFrom = maxFrom;
        w.minTo = minTo;
    }

    /** Whether any lane's interval in {@code w.from/w.to} meets the tile of keys {@code [j, j + TILE)}. */
    static boolean anyLaneSees(AttentionScratch w, int j) {
        for (int o = 0; o < BLOCK; o += L) {
            IntVector from = IntVector.fromArray(I, w.from, o), to = IntVector.fromArray(I, w.to, o);
            if (from.lt(j + TILE).and(to.compare(VectorOperators.GT, j)).anyTrue()) return true;
        }
        return false;
    }

    /** Row starts of the tile of keys {@code [j, j + TILE)}, clamped into {@code [lo, hi)}: outside it every lane is masked. */
    static void keyTileRows(int j, int lo, int hi, int base, int stride, int[] rows) {
        for (int t = 0; t < TILE; t++) rows[t] = base + Math.clamp(j + t, lo, hi - 1) * stride;
    }

    /**
     * Whether a block of {@code rows} rows of head dimension {@code hd} moves between lanes and rows through
     * {@link Transpose16}: a full block, whole 16 × 16 squares. Element by element, the transpositions in and out of
     * the lanes were a quarter of the attention's time at T = 64, head dimension 32 (the byte-LM config).
     */
    static boolean transposeInSquares(int rows, int hd) {
        return Transpose16.AVAILABLE && rows == BLOCK && hd % 16 == 0;
    }

    /** Writes {@code aT[d*BLOCK + lane] = x[off + (i0 + lane)*stride + d]·scale}; padding lanes repeat the last row. */
    static void transposeRows(float[] x, int off, int stride, int i0, int rows, int hd, float scale, float[] aT) {
        if (transposeInSquares(rows, hd)) {
            for (int lb = 0; lb < BLOCK; lb += 16)
                for (int db = 0; db < hd; db += 16)
                    Transpose16.block(x, off + (i0 + lb) * stride + db, stride, aT, db * BLOCK + lb, BLOCK);
            if (scale != 1f) // the same product as below, after the move instead of before
                for (int i = 0; i < hd * BLOCK; i += L) FloatVector.fromArray(F, aT, i).mul(scale).intoArray(aT, i);
            return;
        }
        for (int lane = 0; lane < BLOCK; lane++) {
            int b = off + (i0 + Math.min(lane, rows - 1)) * stride;
            for (int d = 0; d < hd; d++) aT[d * BLOCK + lane] = x[b + d] * scale;
        }
    }

    private static void block(AttentionKernel.Shape s, float[] q, float[] k, float[] v, int[] keyFrom, int[] keyTo,
                              float scale, float[] out, float[] lse, int h, int i0, AttentionScratch w) {
        int hd = s.headDim(), rows = Math.min(BLOCK, s.queries() - i0), kvh = h / (s.heads() / s.kvHeads());
        laneIntervals(s.queries(), keyFrom, keyTo, i0, w);
        int lo = w.lo, hi = w.hi, maxFrom = w.maxFrom, minTo = w.minTo;
        transposeRows(q, s.qOff() + h * hd, s.qStride(), i0, rows, hd, scale, w.aT);
        Arrays.fill(w.accT, 0, hd * BLOCK, 0f);
        Arrays.fill(w.max, Float.NEGATIVE_INFINITY);
        Arrays.fill(w.sum, 0f);
        int kBase = s.kOff() + kvh * hd, vBase = s.vOff() + kvh * hd;
        for (int j = lo & -TILE; j < hi; j += TILE) {
            boolean allSee = j >= maxFrom && j + TILE <= minTo;
            if (!allSee && !anyLaneSees(w, j)) continue; // skipping a tile no lane sees changes nothing
            keyTileRows(j, lo, hi, kBase, s.kStride(), w.rowsA);
            keyTileRows(j, lo, hi, vBase, s.vStride(), w.rowsB);
            AttentionTiles.dotTile(w.aT, k, w.rowsA, hd, w.tile);
            boolean rescale = softmaxTile(w, j, allSee);
            AttentionTiles.accumulateTile(w.accT, v, w.rowsB, hd, w.tile, rescale ? w.rescale : null);
        }
        int heads = s.heads();
        boolean squares = transposeInSquares(rows, hd);
        if (squares) { // out = acc · (1/l), lane by lane, then moved into the rows in 16 × 16 squares
            for (int lane = 0; lane < BLOCK; lane++) w.rescale[lane] = w.sum[lane] == 0f ? 0f : 1f / w.sum[lane];
            FloatVector inv0 = FloatVector.fromArray(F, w.rescale, 0), inv1 = FloatVector.fromArray(F, w.rescale, L);
            for (int d = 0; d < hd; d++) {
                FloatVector.fromArray(F, w.accT, d * BLOCK).mul(inv0).intoArray(w.accT, d * BLOCK);
                FloatVector.fromArray(F, w.accT, d * BLOCK + L).mul(inv1).intoArray(w.accT, d * BLOCK + L);
            }
            for (int db = 0; db < hd; db += 16)
                for (int lb = 0; lb < BLOCK; lb += 16)
                    Transpose16.block(w.accT, db * BLOCK + lb, BLOCK, out, s.outOff() + (i0 + lb) * s.outStride() + h * hd + db,
                            s.outStride());
        }
        for (int lane = 0; lane < rows; lane++) {
            int i = i0 + lane, ob = s.outOff() + i * s.outStride() + h * hd;
            float l = w.sum[lane];
            if (l == 0f) { // empty interval: output 0 and lse −∞, as the scalar twin
                for (int d = 0; d < hd; d++) out[ob + d] = 0f;
                if (lse != null) lse[i * heads + h] = Float.NEGATIVE_INFINITY;
            } else {
                if (!squares) {
                    float inv = 1f / l;
                    for (int d = 0; d < hd; d++) out[ob + d] = w.accT[d * BLOCK + lane] * inv;
                }
                if (lse != null) lse[i * heads + h] = w.max[lane] + (float) Math.log(l);
            }
        }
    }

    /**
     * One online-softmax step over the scores of a key tile in {@code w.tile} (lanes = queries): masks the keys a
     * lane cannot see, raises the running maxima {@code w.max}, turns the scores into p = exp(score − max), adds them
     * to {@code w.sum}, and leaves in {@code w.rescale} the factor exp(old max − new max) for what was accumulated.
     * Returns false when no lane's maximum moved: every factor is then exactly 1 and the rescale can be skipped.
     */
    private static boolean softmaxTile(AttentionScratch w, int j, boolean allSee) {
        boolean moved = false;
        for (int o = 0; o < BLOCK; o += L) { // the two vectors of the block, independently
            FloatVector from = FloatVector.fromArray(F, w.fromF, o), to = FloatVector.fromArray(F, w.toF, o);
            FloatVector max = FloatVector.fromArray(F, w.max, o);
            FloatVector newMax = max;
            for (int t = 0; t < TILE; t++) {
                FloatVector score = FloatVector.fromArray(F, w.tile, t * BLOCK + o);
                if (!allSee) {
                    score = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY)
                            .blend(score, from.compare(VectorOperators.LE, (float) (j + t))
                                    .and(to.compare(VectorOperators.GT, (float) (j + t)))); // see AttentionTiles.sees
                    score.intoArray(w.tile, t * BLOCK + o);
                }
                newMax = newMax.max(score);
            }
            // a lane that has seen nothing yet keeps max −∞; exponentiate against 0 there so −∞ − (−∞) never occurs
            FloatVector pivot = newMax.blend(0f, newMax.eq(Float.NEGATIVE_INFINITY));
            FloatVector tileSum = FloatVector.zero(F);
            for (int t = 0; t < TILE; t++) {
                FloatVector p = AttentionTiles.exp(FloatVector.fromArray(F, w.tile, t * BLOCK + o).sub(pivot));
                p.intoArray(w.tile, t * BLOCK + o);
                tileSum = tileSum.add(p);
            }
            FloatVector rescale = AttentionTiles.exp(max.sub(pivot));
            rescale.intoArray(w.rescale, o);
            newMax.intoArray(w.max, o);
            // fma(sum, 1, x) is sum + x: a lane whose max did not move gets the same bits as without the rescale
            FloatVector.fromArray(F, w.sum, o).fma(rescale, tileSum).intoArray(w.sum, o);
            moved |= !newMax.eq(max).allTrue();
        }
        return moved;
    }
}

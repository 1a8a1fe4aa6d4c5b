package dev.patchwork.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The two tile primitives every vector attention pass is built from, plus a lane-wise {@code exp}.
 *
 * <p>A "transposed block" holds the {@link #BLOCK} rows of one side in lanes: {@code aT[d*BLOCK + r]} is component
 * {@code d} of row {@code r} (rows are queries in the forward pass, keys in the backward pass). A "tile" is
 * {@link #TILE} rows of the other side in a natural-layout array, row {@code t} starting at {@code rows[t]} (any offsets
 * and strides, so q, k, v may be slices of one fused QKV buffer). Each component of a tile row is broadcast and
 * multiplied into all the block's lanes: every loop is full-width whatever the head dimension (6 or 128), with no
 * horizontal reduction.
 *
 * <p>Every lane's result depends only on that lane's inputs and on the fixed operation order below, never on which
 * other rows share the block: this is what makes a query's output bit-identical whether it is computed alone (a
 * decoding step) or among a whole sequence.
 */
final class AttentionTiles {
    static final VectorSpecies<Float> F = Simd.F;
    static final VectorSpecies<Integer> I = F.withLanes(int.class);
    /** Lanes per vector. */
    static final int L = Simd.LANES;
    /**
     * Rows of the transposed side per block: two vectors, so each broadcast component feeds two FMAs. With one
     * vector the broadcast loads, not the FMAs, were the limit (measured 71 against 95 GFLOP/s per core at hd 64).
     */
    static final int BLOCK = 2 * L;
    /** Rows of the natural side per tile: 8 rows × 2 vectors = 16 accumulators, which fit in the 32 AVX-512 registers. */
    static final int TILE = 8;

    private AttentionTiles() {}

    /** {@code dst[t*BLOCK + r] = Σ_d aT[d*BLOCK + r] · x[rows[t] + d]} for the {@link #TILE} rows t. */
    static void dotTile(float[] aT, float[] x, int[] rows, int hd, float[] dst) {
        int r0 = rows[0], r1 = rows[1], r2 = rows[2], r3 = rows[3];
        int r4 = rows[4], r5 = rows[5], r6 = rows[6], r7 = rows[7];
        // sN: lanes 0..L-1 of tile row N, uN: lanes L..2L-1
        FloatVector s0 = FloatVector.zero(F), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
        FloatVector u0 = s0, u1 = s0, u2 = s0, u3 = s0, u4 = s0, u5 = s0, u6 = s0, u7 = s0;
        for (int d = 0; d < hd; d++) {
            FloatVector a = FloatVector.fromArray(F, aT, d * BLOCK), b = FloatVector.fromArray(F, aT, d * BLOCK + L);
            FloatVector x0 = FloatVector.broadcast(F, x[r0 + d]);
            s0 = a.fma(x0, s0);
            u0 = b.fma(x0, u0);
            FloatVector x1 = FloatVector.broadcast(F, x[r1 + d]);
            s1 = a.fma(x1, s1);
            u1 = b.fma(x1, u1);
            FloatVector x2 = FloatVector.broadcast(F, x[r2 + d]);
            s2 = a.fma(x2, s2);
            u2 = b.fma(x2, u2);
            FloatVector x3 = FloatVector.broadcast(F, x[r3 + d]);
            s3 = a.fma(x3, s3);
            u3 = b.fma(x3, u3);
            FloatVector x4 = FloatVector.broadcast(F, x[r4 + d]);
            s4 = a.fma(x4, s4);
            u4 = b.fma(x4, u4);
            FloatVector x5 = FloatVector.broadcast(F, x[r5 + d]);
            s5 = a.fma(x5, s5);
            u5 = b.fma(x5, u5);
            FloatVector x6 = FloatVector.broadcast(F, x[r6 + d]);
            s6 = a.fma(x6, s6);
            u6 = b.fma(x6, u6);
            FloatVector x7 = FloatVector.broadcast(F, x[r7 + d]);
            s7 = a.fma(x7, s7);
            u7 = b.fma(x7, u7);
        }
        s0.intoArray(dst, 0);
        u0.intoArray(dst, L);
        s1.intoArray(dst, BLOCK);
        u1.intoArray(dst, BLOCK + L);
        s2.intoArray(dst, 2 * BLOCK);
        u2.intoArray(dst, 2 * BLOCK + L);
        s3.intoArray(dst, 3 * BLOCK);
        u3.intoArray(dst, 3 * BLOCK + L);
        s4.intoArray(dst, 4 * BLOCK);
        u4.intoArray(dst, 4 * BLOCK + L);
        s5.intoArray(dst, 5 * BLOCK);
        u5.intoArray(dst, 5 * BLOCK + L);
        s6.intoArray(dst, 6 * BLOCK);
        u6.intoArray(dst, 6 * BLOCK + L);
        s7.intoArray(dst, 7 * BLOCK);
        u7.intoArray(dst, 7 * BLOCK + L);
    }

    /**
     * {@code accT[d*BLOCK + r] = accT[d*BLOCK + r]·c[r] + Σ_t x[rows[t] + d] · w[t*BLOCK + r]}, the terms added in
     * order t = 0..7; without {@code c} (null) the old value is kept as is.
     */
    static void accumulateTile(float[] accT, float[] x, int[] rows, int hd, float[] w, float[] c) {
        int r0 = rows[0], r1 = rows[1], r2 = rows[2], r3 = rows[3];
        int r4 = rows[4], r5 = rows[5], r6 = rows[6], r7 = rows[7];
        // wN: lanes 0..L-1 of the weights of tile row N, vN: lanes L..2L-1
        FloatVector w0 = FloatVector.fromArray(F, w, 0), v0 = FloatVector.fromArray(F, w, L);
        FloatVector w1 = FloatVector.fromArray(F, w, BLOCK), v1 = FloatVector.fromArray(F, w, BLOCK + L);
        FloatVector w2 = FloatVector.fromArray(F, w, 2 * BLOCK), v2 = FloatVector.fromArray(F, w, 2 * BLOCK + L);
        FloatVector w3 = FloatVector.fromArray(F, w, 3 * BLOCK), v3 = FloatVector.fromArray(F, w, 3 * BLOCK + L);
        FloatVector w4 = FloatVector.fromArray(F, w, 4 * BLOCK), v4 = FloatVector.fromArray(F, w, 4 * BLOCK + L);
        FloatVector w5 = FloatVector.fromArray(F, w, 5 * BLOCK), v5 = FloatVector.fromArray(F, w, 5 * BLOCK + L);
        FloatVector w6 = FloatVector.fromArray(F, w, 6 * BLOCK), v6 = FloatVector.fromArray(F, w, 6 * BLOCK + L);
        FloatVector w7 = FloatVector.fromArray(F, w, 7 * BLOCK), v7 = FloatVector.fromArray(F, w, 7 * BLOCK + L);
        // one unit factor instead of a null check: a vector that may be null could not stay in a register
        FloatVector c0 = c == null ? FloatVector.broadcast(F, 1f) : FloatVector.fromArray(F, c, 0);
        FloatVector c1 = c == null ? c0 : FloatVector.fromArray(F, c, L);
        boolean rescale = c != null;
        for (int d = 0; d < hd; d++) {
            FloatVector o = FloatVector.fromArray(F, accT, d * BLOCK), u = FloatVector.fromArray(F, accT, d * BLOCK + L);
            if (rescale) {
                o = o.mul(c0);
                u = u.mul(c1);
            }
            FloatVector x0 = FloatVector.broadcast(F, x[r0 + d]);
            o = x0.fma(w0, o);
            u = x0.fma(v0, u);
            FloatVector x1 = FloatVector.broadcast(F, x[r1 + d]);
            o = x1.fma(w1, o);
            u = x1.fma(v1, u);
            FloatVector x2 = FloatVector.broadcast(F, x[r2 + d]);
            o = x2.fma(w2, o);
            u = x2.fma(v2, u);
            FloatVector x3 = FloatVector.broadcast(F, x[r3 + d]);
            o = x3.fma(w3, o);
            u = x3.fma(v3, u);
            FloatVector x4 = FloatVector.broadcast(F, x[r4 + d]);
            o = x4.fma(w4, o);
            u = x4.fma(v4, u);
            FloatVector x5 = FloatVector.broadcast(F, x[r5 + d]);
            o = x5.fma(w5, o);
            u = x5.fma(v5, u);
            FloatVector x6 = FloatVector.broadcast(F, x[r6 + d]);
            o = x6.fma(w6, o);
            u = x6.fma(v6, u);
            FloatVector x7 = FloatVector.broadcast(F, x[r7 + d]);
            o = x7.fma(w7, o);
            u = x7.fma(v7, u);
            o.intoArray(accT, d * BLOCK);
            u.intoArray(accT, d * BLOCK + L);
        }
    }

    /**
     * {@code dst[t*hd + d] = Σ_{r < rows} w[t*BLOCK + r] · x[xOff + r*xStride + d]} for the {@link #TILE} rows t and
     * every {@code d < hd}, the terms added in order r = 0, 1, ...: the product of a tile of weights whose lanes are
     * rows of x (keys) with x in its natural layout. The backward pass uses it for dq = ds·k, where the keys are the
     * lanes: reducing across lanes instead would cost a horizontal sum per (row, component). Components go two
     * vectors at a time (16 accumulators), so each broadcast weight feeds two FMAs; a ragged end goes one masked
     * vector at a time.
     */
    static void naturalTile(float[] w, float[] x, int xOff, int xStride, int rows, int hd, float[] dst) {
        int dc = 0;
        for (; dc + 2 * L <= hd; dc += 2 * L) naturalChunk(w, x, xOff + dc, xStride, rows, hd, dc, dst);
        for (; dc < hd; dc += L) naturalChunkMasked(w, x, xOff + dc, xStride, rows, hd, dc, dst);
    }

    /**
     * Components {@code dc .. dc+2L} of {@link #naturalTile}. Kept apart from the masked tail: C2 compiles a kernel
     * with intrinsics only if all its vector calls fit its inlining budget, and one method with both paths ran the
     * library's boxed fallback (ten times slower).
     */
    private static void naturalChunk(float[] w, float[] x, int xOff, int xStride, int rows, int hd, int dc,
                                     float[] dst) {
        // sN: components dc..dc+L-1 of tile row N, uN: the next L
        FloatVector s0 = FloatVector.zero(F), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
        FloatVector u0 = s0, u1 = s0, u2 = s0, u3 = s0, u4 = s0, u5 = s0, u6 = s0, u7 = s0;
        for (int r = 0; r < rows; r++) {
            int xb = xOff + r * xStride;
            FloatVector a = FloatVector.fromArray(F, x, xb), b = FloatVector.fromArray(F, x, xb + L);
            FloatVector w0 = FloatVector.broadcast(F, w[r]);
            s0 = w0.fma(a, s0);
            u0 = w0.fma(b, u0);
            FloatVector w1 = FloatVector.broadcast(F, w[BLOCK + r]);
            s1 = w1.fma(a, s1);
            u1 = w1.fma(b, u1);
            FloatVector w2 = FloatVector.broadcast(F, w[2 * BLOCK + r]);
            s2 = w2.fma(a, s2);
            u2 = w2.fma(b, u2);
            FloatVector w3 = FloatVector.broadcast(F, w[3 * BLOCK + r]);
            s3 = w3.fma(a, s3);
            u3 = w3.fma(b, u3);
            FloatVector w4 = FloatVector.broadcast(F, w[4 * BLOCK + r]);
            s4 = w4.fma(a, s4);
            u4 = w4.fma(b, u4);
            FloatVector w5 = FloatVector.broadcast(F, w[5 * BLOCK + r]);
            s5 = w5.fma(a, s5);
            u5 = w5.fma(b, u5);
            FloatVector w6 = FloatVector.broadcast(F, w[6 * BLOCK + r]);
            s6 = w6.fma(a, s6);
            u6 = w6.fma(b, u6);
            FloatVector w7 = FloatVector.broadcast(F, w[7 * BLOCK + r]);
            s7 = w7.fma(a, s7);
            u7 = w7.fma(b, u7);
        }
        s0.intoArray(dst, dc);
        u0.intoArray(dst, dc + L);
        s1.intoArray(dst, hd + dc);
        u1.intoArray(dst, hd + dc + L);
        s2.intoArray(dst, 2 * hd + dc);
        u2.intoArray(dst, 2 * hd + dc + L);
        s3.intoArray(dst, 3 * hd + dc);
        u3.intoArray(dst, 3 * hd + dc + L);
        s4.intoArray(dst, 4 * hd + dc);
        u4.intoArray(dst, 4 * hd + dc + L);
        s5.intoArray(dst, 5 * hd + dc);
        u5.intoArray(dst, 5 * hd + dc + L);
        s6.intoArray(dst, 6 * hd + dc);
        u6.intoArray(dst, 6 * hd + dc + L);
        s7.intoArray(dst, 7 * hd + dc);
        u7.intoArray(dst, 7 * hd + dc + L);
    }

    /**
     * One vector of components {@code dc ..} of {@link #naturalTile}, the lanes past {@code hd} masked off. The mask is
     * made here: a mask passed to a method the JIT does not inline is boxed on the heap.
     */
    private static void naturalChunkMasked(float[] w, float[] x, int xOff, int xStride, int rows, int hd, int dc,
                                           float[] dst) {
        VectorMask<Float> m = F.indexInRange(dc, hd);
        FloatVector s0 = FloatVector.zero(F), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
        for (int r = 0; r < rows; r++) {
            FloatVector a = FloatVector.fromArray(F, x, xOff + r * xStride, m);
            s0 = FloatVector.broadcast(F, w[r]).fma(a, s0);
            s1 = FloatVector.broadcast(F, w[BLOCK + r]).fma(a, s1);
            s2 = FloatVector.broadcast(F, w[2 * BLOCK + r]).fma(a, s2);
            s3 = FloatVector.broadcast(F, w[3 * BLOCK + r]).fma(a, s3);
            s4 = FloatVector.broadcast(F, w[4 * BLOCK + r]).fma(a, s4);
            s5 = FloatVector.broadcast(F, w[5 * BLOCK + r]).fma(a, s5);
            s6 = FloatVector.broadcast(F, w[6 * BLOCK + r]).fma(a, s6);
            s7 = FloatVector.broadcast(F, w[7 * BLOCK + r]).fma(a, s7);
        }
        s0.intoArray(dst, dc, m);
        s1.intoArray(dst, hd + dc, m);
        s2.intoArray(dst, 2 * hd + dc, m);
        s3.intoArray(dst, 3 * hd + dc, m);
        s4.intoArray(dst, 4 * hd + dc, m);
        s5.intoArray(dst, 5 * hd + dc, m);
        s6.intoArray(dst, 6 * hd + dc, m);
        s7.intoArray(dst, 7 * hd + dc, m);
    }

    /*
     * Masks of the lanes whose key interval [from, to) holds key j are written out at their call sites rather than in
     * a helper here: when the JIT did not inline such a helper into the (large) tile loops, the compiled helper saw
     * its vector arguments only as FloatVector, could not intrinsify the comparison, and ran the fallback, which
     * allocated arrays and boxed masks on every tile (megabytes per training step). Key indices are compared as
     * floats (exact below 2^24): an int comparison also needed a mask cast to float lanes.
     */

    /** Below this e^x is under the smallest normal float; we return 0 (this also maps -∞, a masked score, to 0). */
    static final float EXP_ZERO_BELOW = -87.33f;

    /**
     * e^x lane by lane ({@link VectorMath#exp}, within 2 ulp; exactly 1 at 0) and exactly 0 below
     * {@link #EXP_ZERO_BELOW}. Written with plain lane-wise arithmetic (not {@code lanewise(EXP)}) so that a lane's
     * result never depends on its neighbours and is the same on every machine. Call it only where it is inlined
     * (hot loops of small methods): a vector passed to an out-of-line call is boxed on the heap.
     */
    static FloatVector exp(FloatVector x) {
        return VectorMath.exp(x).blend(0f, x.lt(EXP_ZERO_BELOW));
    }
}

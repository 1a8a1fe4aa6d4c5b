package dev.patchwork.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * The two tile primitives every vector attention pass is built from, plus a lane-wise {@code exp}.
 *
 * <p>A "transposed block" holds {@code hd} vectors of {@link #L} lanes: {@code aT[d*L + lane]} is component {@code d}
 * of the lane's row (the lanes are queries in the forward and dq passes, keys in the dk/dv pass). A "tile" is
 * {@link #TILE} rows of a natural-layout array, row {@code t} starting at {@code rows[t]} (any offsets and strides, so
 * q, k, v may be slices of one fused QKV buffer). Putting the rows of one side in lanes makes every loop full-width
 * whatever the head dimension (6 or 128) and needs no horizontal reduction: each row component is broadcast and
 * multiplied into all lanes.
 *
 * <p>Every lane's result depends only on that lane's inputs and on the fixed operation order below, never on which
 * other rows share the vector: this is what makes a query's output bit-identical whether it is computed alone (a
 * decoding step) or among a whole sequence.
 */
final class AttentionTiles {
    static final VectorSpecies<Float> F = Simd.F;
    static final VectorSpecies<Integer> I = F.withLanes(int.class);
    /** Lanes per vector: rows of the transposed side per block. */
    static final int L = Simd.LANES;
    /** Rows of the natural side per tile; 8 accumulators keep the FMA pipes busy and fit in the registers. */
    static final int TILE = 8;

    private AttentionTiles() {}

    /** {@code dst[t*L + lane] = Σ_d aT[d*L + lane] · x[rows[t] + d]} for the {@link #TILE} rows. */
    static void dotTile(float[] aT, float[] x, int[] rows, int hd, float[] dst) {
        int r0 = rows[0], r1 = rows[1], r2 = rows[2], r3 = rows[3];
        int r4 = rows[4], r5 = rows[5], r6 = rows[6], r7 = rows[7];
        FloatVector s0 = FloatVector.zero(F), s1 = s0, s2 = s0, s3 = s0, s4 = s0, s5 = s0, s6 = s0, s7 = s0;
        for (int d = 0; d < hd; d++) {
            FloatVector a = FloatVector.fromArray(F, aT, d * L);
            s0 = a.fma(FloatVector.broadcast(F, x[r0 + d]), s0);
            s1 = a.fma(FloatVector.broadcast(F, x[r1 + d]), s1);
            s2 = a.fma(FloatVector.broadcast(F, x[r2 + d]), s2);
            s3 = a.fma(FloatVector.broadcast(F, x[r3 + d]), s3);
            s4 = a.fma(FloatVector.broadcast(F, x[r4 + d]), s4);
            s5 = a.fma(FloatVector.broadcast(F, x[r5 + d]), s5);
            s6 = a.fma(FloatVector.broadcast(F, x[r6 + d]), s6);
            s7 = a.fma(FloatVector.broadcast(F, x[r7 + d]), s7);
        }
        s0.intoArray(dst, 0);
        s1.intoArray(dst, L);
        s2.intoArray(dst, 2 * L);
        s3.intoArray(dst, 3 * L);
        s4.intoArray(dst, 4 * L);
        s5.intoArray(dst, 5 * L);
        s6.intoArray(dst, 6 * L);
        s7.intoArray(dst, 7 * L);
    }

    /**
     * {@code accT[d*L + lane] = accT[d*L + lane]·c[lane] + Σ_t x[rows[t] + d] · w[t*L + lane]}, the terms added in
     * order t = 0..7; without {@code c} (null) the old value is kept as is.
     */
    static void accumulateTile(float[] accT, float[] x, int[] rows, int hd, float[] w, float[] c) {
        int r0 = rows[0], r1 = rows[1], r2 = rows[2], r3 = rows[3];
        int r4 = rows[4], r5 = rows[5], r6 = rows[6], r7 = rows[7];
        FloatVector w0 = FloatVector.fromArray(F, w, 0), w1 = FloatVector.fromArray(F, w, L);
        FloatVector w2 = FloatVector.fromArray(F, w, 2 * L), w3 = FloatVector.fromArray(F, w, 3 * L);
        FloatVector w4 = FloatVector.fromArray(F, w, 4 * L), w5 = FloatVector.fromArray(F, w, 5 * L);
        FloatVector w6 = FloatVector.fromArray(F, w, 6 * L), w7 = FloatVector.fromArray(F, w, 7 * L);
        // two copies of the loop: a vector that may be null could not stay in a register (C2 would box it)
        if (c == null) {
            for (int d = 0; d < hd; d++) {
                FloatVector o = FloatVector.fromArray(F, accT, d * L);
                FloatVector odd = FloatVector.broadcast(F, x[r1 + d]).mul(w1);
                o = FloatVector.broadcast(F, x[r0 + d]).fma(w0, o);
                odd = FloatVector.broadcast(F, x[r3 + d]).fma(w3, odd);
                o = FloatVector.broadcast(F, x[r2 + d]).fma(w2, o);
                odd = FloatVector.broadcast(F, x[r5 + d]).fma(w5, odd);
                o = FloatVector.broadcast(F, x[r4 + d]).fma(w4, o);
                odd = FloatVector.broadcast(F, x[r7 + d]).fma(w7, odd);
                o = FloatVector.broadcast(F, x[r6 + d]).fma(w6, o);
                o.add(odd).intoArray(accT, d * L);
            }
        } else {
            FloatVector scale = FloatVector.fromArray(F, c, 0);
            for (int d = 0; d < hd; d++) {
                FloatVector o = FloatVector.fromArray(F, accT, d * L).mul(scale);
                FloatVector odd = FloatVector.broadcast(F, x[r1 + d]).mul(w1);
                o = FloatVector.broadcast(F, x[r0 + d]).fma(w0, o);
                odd = FloatVector.broadcast(F, x[r3 + d]).fma(w3, odd);
                o = FloatVector.broadcast(F, x[r2 + d]).fma(w2, o);
                odd = FloatVector.broadcast(F, x[r5 + d]).fma(w5, odd);
                o = FloatVector.broadcast(F, x[r4 + d]).fma(w4, o);
                odd = FloatVector.broadcast(F, x[r7 + d]).fma(w7, odd);
                o = FloatVector.broadcast(F, x[r6 + d]).fma(w6, o);
                o.add(odd).intoArray(accT, d * L);
            }
        }
    }

    /** Lanes whose key interval {@code [from, to)} contains key {@code j}, as a float mask. */
    static VectorMask<Float> sees(IntVector from, IntVector to, int j) {
        return from.compare(VectorOperators.LE, j).and(to.compare(VectorOperators.GT, j)).cast(F);
    }

    /** Keys {@code j0 + lane} that lie in {@code [from, to)}, as a float mask. */
    static VectorMask<Float> keysIn(IntVector keyIndex, int from, int to) {
        return keyIndex.compare(VectorOperators.GE, from).and(keyIndex.compare(VectorOperators.LT, to)).cast(F);
    }

    private static final float LOG2E = 1.44269504f;
    private static final float LN2_HI = 0.693359375f; // few mantissa bits, so n·LN2_HI is exact (Cody-Waite)
    private static final float LN2_LO = -2.12194440e-4f;
    private static final float ROUNDER = 12582912f; // 1.5·2^23: adding it rounds to an integer kept in the low bits
    private static final int ROUNDER_BITS = 0x4B400000;
    /** Below this e^x is under the smallest normal float; we return 0 (this also maps -∞, a masked score, to 0). */
    static final float EXP_ZERO_BELOW = -87.33f;

    /**
     * e^x lane by lane for x ≤ 88 (larger x is clamped), within about 2 ulp; exactly 1 at 0 and exactly 0 below
     * {@link #EXP_ZERO_BELOW}. Written with plain lane-wise arithmetic (not {@code lanewise(EXP)}) so that a lane's
     * result never depends on its neighbours and is the same on every machine. Call it only where it is inlined
     * (hot loops of small methods): a vector passed to an out-of-line call is boxed on the heap.
     */
    static FloatVector exp(FloatVector x) {
        FloatVector xc = x.min(88f);
        FloatVector t = xc.fma(LOG2E, ROUNDER);             // ROUNDER + round(x·log2 e)
        FloatVector n = t.sub(ROUNDER);
        FloatVector r = n.fma(FloatVector.broadcast(F, -LN2_HI), xc); // r = x − n·ln 2, |r| ≤ ln2/2
        r = n.fma(FloatVector.broadcast(F, -LN2_LO), r);
        // Taylor series of e^r to degree 7: truncation error below 1e-8 for |r| ≤ ln2/2
        FloatVector p = r.fma(1f / 5040f, 1f / 720f);
        p = p.fma(r, FloatVector.broadcast(F, 1f / 120f));
        p = p.fma(r, FloatVector.broadcast(F, 1f / 24f));
        p = p.fma(r, FloatVector.broadcast(F, 1f / 6f));
        p = p.fma(r, FloatVector.broadcast(F, 0.5f));
        p = p.fma(r, FloatVector.broadcast(F, 1f));
        p = p.fma(r, FloatVector.broadcast(F, 1f));
        // 2^n built directly in the exponent field: n + 127 shifted into place
        FloatVector pow2 = t.reinterpretAsInts().add(127 - ROUNDER_BITS)
                .lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        return p.mul(pow2).blend(0f, x.lt(EXP_ZERO_BELOW));
    }
}

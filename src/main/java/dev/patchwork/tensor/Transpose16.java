package dev.patchwork.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * A 16 × 16 float transposition in registers, for 512-bit vectors: packing a weight read transposed into the GEMM's
 * panels ({@link GemmEngine}) is a transposition, and done element by element it cost 0.65–0.9 ns per value against
 * 0.18–0.25 here (one core).
 *
 * <p>Four rounds swap the off-diagonal blocks of size 8, 4, 2 and 1: in the round of size b, rows i and i + b (for i
 * with bit b clear) become {@code [i's lanes with bit b clear, (i+b)'s lanes with bit b clear]} and the same for the
 * lanes with bit b set. Each new row is one two-vector permute ({@code selectFrom(v1, v2)}, a single instruction on
 * AVX-512): 64 permutes for 256 values. The rounds are written out (no loops, no helper taking vectors) so C2 keeps all
 * 16 rows in registers.
 */
final class Transpose16 {
    /** The species this is written for; callers use the element-wise path when the machine's differs. */
    static final VectorSpecies<Float> F = FloatVector.SPECIES_512;
    /** Whether the machine's preferred species is the 512-bit one (16 lanes) this needs. */
    static final boolean AVAILABLE = Simd.F == F;

    // LO[r], HI[r]: the permutes of round r (b = 8 >> r), as index vectors over the pair (row i, row i + b)
    private static final FloatVector[] LO = new FloatVector[4], HI = new FloatVector[4];

    static {
        for (int r = 0, b = 8; r < 4; r++, b /= 2) {
            float[] lo = new float[16], hi = new float[16];
            for (int l = 0; l < 16; l++) {
                lo[l] = (l & b) == 0 ? l : l - b + 16;
                hi[l] = (l & b) == 0 ? l + b : l + 16;
            }
            LO[r] = FloatVector.fromArray(F, lo, 0);
            HI[r] = FloatVector.fromArray(F, hi, 0);
        }
    }

    private Transpose16() {}

    /**
     * {@code dst[dOff + p*dstStride + c] = src[sOff + c*srcStride + p]} for c, p in [0, 16): 16 rows of 16 contiguous
     * values in {@code src}, written transposed into 16 rows of {@code dst}, each side at its own stride.
     */
    static void block(float[] src, int sOff, int srcStride, float[] dst, int dOff, int dstStride) {
        FloatVector v0 = FloatVector.fromArray(F, src, sOff);
        FloatVector v1 = FloatVector.fromArray(F, src, sOff + srcStride);
        FloatVector v2 = FloatVector.fromArray(F, src, sOff + 2 * srcStride);
        FloatVector v3 = FloatVector.fromArray(F, src, sOff + 3 * srcStride);
        FloatVector v4 = FloatVector.fromArray(F, src, sOff + 4 * srcStride);
        FloatVector v5 = FloatVector.fromArray(F, src, sOff + 5 * srcStride);
        FloatVector v6 = FloatVector.fromArray(F, src, sOff + 6 * srcStride);
        FloatVector v7 = FloatVector.fromArray(F, src, sOff + 7 * srcStride);
        FloatVector v8 = FloatVector.fromArray(F, src, sOff + 8 * srcStride);
        FloatVector v9 = FloatVector.fromArray(F, src, sOff + 9 * srcStride);
        FloatVector v10 = FloatVector.fromArray(F, src, sOff + 10 * srcStride);
        FloatVector v11 = FloatVector.fromArray(F, src, sOff + 11 * srcStride);
        FloatVector v12 = FloatVector.fromArray(F, src, sOff + 12 * srcStride);
        FloatVector v13 = FloatVector.fromArray(F, src, sOff + 13 * srcStride);
        FloatVector v14 = FloatVector.fromArray(F, src, sOff + 14 * srcStride);
        FloatVector v15 = FloatVector.fromArray(F, src, sOff + 15 * srcStride);
        FloatVector lo = LO[0], hi = HI[0], t;
        t = lo.selectFrom(v0, v8);   v8 = hi.selectFrom(v0, v8);     v0 = t;
        t = lo.selectFrom(v1, v9);   v9 = hi.selectFrom(v1, v9);     v1 = t;
        t = lo.selectFrom(v2, v10);  v10 = hi.selectFrom(v2, v10);   v2 = t;
        t = lo.selectFrom(v3, v11);  v11 = hi.selectFrom(v3, v11);   v3 = t;
        t = lo.selectFrom(v4, v12);  v12 = hi.selectFrom(v4, v12);   v4 = t;
        t = lo.selectFrom(v5, v13);  v13 = hi.selectFrom(v5, v13);   v5 = t;
        t = lo.selectFrom(v6, v14);  v14 = hi.selectFrom(v6, v14);   v6 = t;
        t = lo.selectFrom(v7, v15);  v15 = hi.selectFrom(v7, v15);   v7 = t;
        lo = LO[1];
        hi = HI[1];
        t = lo.selectFrom(v0, v4);   v4 = hi.selectFrom(v0, v4);     v0 = t;
        t = lo.selectFrom(v1, v5);   v5 = hi.selectFrom(v1, v5);     v1 = t;
        t = lo.selectFrom(v2, v6);   v6 = hi.selectFrom(v2, v6);     v2 = t;
        t = lo.selectFrom(v3, v7);   v7 = hi.selectFrom(v3, v7);     v3 = t;
        t = lo.selectFrom(v8, v12);  v12 = hi.selectFrom(v8, v12);   v8 = t;
        t = lo.selectFrom(v9, v13);  v13 = hi.selectFrom(v9, v13);   v9 = t;
        t = lo.selectFrom(v10, v14); v14 = hi.selectFrom(v10, v14);  v10 = t;
        t = lo.selectFrom(v11, v15); v15 = hi.selectFrom(v11, v15);  v11 = t;
        lo = LO[2];
        hi = HI[2];
        t = lo.selectFrom(v0, v2);   v2 = hi.selectFrom(v0, v2);     v0 = t;
        t = lo.selectFrom(v1, v3);   v3 = hi.selectFrom(v1, v3);     v1 = t;
        t = lo.selectFrom(v4, v6);   v6 = hi.selectFrom(v4, v6);     v4 = t;
        t = lo.selectFrom(v5, v7);   v7 = hi.selectFrom(v5, v7);     v5 = t;
        t = lo.selectFrom(v8, v10);  v10 = hi.selectFrom(v8, v10);   v8 = t;
        t = lo.selectFrom(v9, v11);  v11 = hi.selectFrom(v9, v11);   v9 = t;
        t = lo.selectFrom(v12, v14); v14 = hi.selectFrom(v12, v14);  v12 = t;
        t = lo.selectFrom(v13, v15); v15 = hi.selectFrom(v13, v15);  v13 = t;
        lo = LO[3];
        hi = HI[3];
        t = lo.selectFrom(v0, v1);   v1 = hi.selectFrom(v0, v1);     v0 = t;
        t = lo.selectFrom(v2, v3);   v3 = hi.selectFrom(v2, v3);     v2 = t;
        t = lo.selectFrom(v4, v5);   v5 = hi.selectFrom(v4, v5);     v4 = t;
        t = lo.selectFrom(v6, v7);   v7 = hi.selectFrom(v6, v7);     v6 = t;
        t = lo.selectFrom(v8, v9);   v9 = hi.selectFrom(v8, v9);     v8 = t;
        t = lo.selectFrom(v10, v11); v11 = hi.selectFrom(v10, v11);  v10 = t;
        t = lo.selectFrom(v12, v13); v13 = hi.selectFrom(v12, v13);  v12 = t;
        t = lo.selectFrom(v14, v15); v15 = hi.selectFrom(v14, v15);  v14 = t;
        v0.intoArray(dst, dOff);
        v1.intoArray(dst, dOff + dstStride);
        v2.intoArray(dst, dOff + 2 * dstStride);
        v3.intoArray(dst, dOff + 3 * dstStride);
        v4.intoArray(dst, dOff + 4 * dstStride);
        v5.intoArray(dst, dOff + 5 * dstStride);
        v6.intoArray(dst, dOff + 6 * dstStride);
        v7.intoArray(dst, dOff + 7 * dstStride);
        v8.intoArray(dst, dOff + 8 * dstStride);
        v9.intoArray(dst, dOff + 9 * dstStride);
        v10.intoArray(dst, dOff + 10 * dstStride);
        v11.intoArray(dst, dOff + 11 * dstStride);
        v12.intoArray(dst, dOff + 12 * dstStride);
        v13.intoArray(dst, dOff + 13 * dstStride);
        v14.intoArray(dst, dOff + 14 * dstStride);
        v15.intoArray(dst, dOff + 15 * dstStride);
    }

    /** The element-wise twin of {@link #block}. */
    static void blockScalar(float[] src, int sOff, int srcStride, float[] dst, int dOff, int dstStride) {
        for (int c = 0; c < 16; c++)
            for (int p = 0; p < 16; p++) dst[dOff + p * dstStride + c] = src[sOff + c * srcStride + p];
    }
}

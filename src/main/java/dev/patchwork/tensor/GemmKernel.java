package dev.patchwork.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The register-tiled inner kernel of {@link GemmEngine}: one {@code MR × NR} tile of C from a panel of A (MR rows
 * by {@code kc} depth steps at any two strides: a packed panel, or the caller's array read in place) and a packed
 * panel of B ({@code kc × NR}, NR consecutive values per depth step), both in plain {@code float[]} so the loop
 * touches no MemorySegment. The strides cost nothing measurable: the JIT hoists the twelve row offsets.
 *
 * <p>Why 12 × (2 vectors): the 24 accumulators stay in registers (plus 2 B vectors and 1 broadcast: 27 of the 32
 * AVX-512 registers), which is far more independent FMA chains than latency × throughput needs (4 × 2 on current
 * cores), and each depth step does 24 FMAs for 2 vector loads and 12 broadcast loads. With a narrower species the same
 * code is correct; NR just shrinks with the vector length (on 16-register AVX2 machines the JIT spills a little).
 *
 * <p>Why C is loaded into the accumulators up front (when adding) and stored once at the end, with no helper methods:
 * C2 compiles this method only if all its Vector API calls fit its inlining node budget; a version that added C
 * through a helper after the loop was cut off (NodeCountInliningCutoff) and ran ten times slower with boxed vectors.
 */
final class GemmKernel {
    static final VectorSpecies<Float> F = Simd.F;
    /** Vector lanes, i.e. half of {@link #NR}. */
    static final int L = F.length();
    /** Rows of the register tile. */
    static final int MR = 12;
    /** Columns of the register tile: two vectors. */
    static final int NR = 2 * L;

    private GemmKernel() {}

    /**
     * {@code C[MR×NR] = A·B} (or {@code +=} when {@code add}), where C row r starts at {@code c[cOff + r*ldc]}.
     * A(r, p) is {@code pa[aOff + r*aRowStride + p*aDepthStride]}; B is the packed panel at {@code pb[bOff]}; both
     * have {@code kc} depth steps.
     */
    static void multiply(int kc, float[] pa, int aOff, int aRowStride, int aDepthStride, float[] pb, int bOff,
                         float[] c, int cOff, int ldc, boolean add) {
        FloatVector z = FloatVector.zero(F);
        int o0 = cOff;
        int o1 = cOff + ldc;
        int o2 = cOff + 2 * ldc;
        int o3 = cOff + 3 * ldc;
        int o4 = cOff + 4 * ldc;
        int o5 = cOff + 5 * ldc;
        int o6 = cOff + 6 * ldc;
        int o7 = cOff + 7 * ldc;
        int o8 = cOff + 8 * ldc;
        int o9 = cOff + 9 * ldc;
        int o10 = cOff + 10 * ldc;
        int o11 = cOff + 11 * ldc;
        FloatVector r0a = add ? FloatVector.fromArray(F, c, o0) : z, r0b = add ? FloatVector.fromArray(F, c, o0 + L) : z;
        FloatVector r1a = add ? FloatVector.fromArray(F, c, o1) : z, r1b = add ? FloatVector.fromArray(F, c, o1 + L) : z;
        FloatVector r2a = add ? FloatVector.fromArray(F, c, o2) : z, r2b = add ? FloatVector.fromArray(F, c, o2 + L) : z;
        FloatVector r3a = add ? FloatVector.fromArray(F, c, o3) : z, r3b = add ? FloatVector.fromArray(F, c, o3 + L) : z;
        FloatVector r4a = add ? FloatVector.fromArray(F, c, o4) : z, r4b = add ? FloatVector.fromArray(F, c, o4 + L) : z;
        FloatVector r5a = add ? FloatVector.fromArray(F, c, o5) : z, r5b = add ? FloatVector.fromArray(F, c, o5 + L) : z;
        FloatVector r6a = add ? FloatVector.fromArray(F, c, o6) : z, r6b = add ? FloatVector.fromArray(F, c, o6 + L) : z;
        FloatVector r7a = add ? FloatVector.fromArray(F, c, o7) : z, r7b = add ? FloatVector.fromArray(F, c, o7 + L) : z;
        FloatVector r8a = add ? FloatVector.fromArray(F, c, o8) : z, r8b = add ? FloatVector.fromArray(F, c, o8 + L) : z;
        FloatVector r9a = add ? FloatVector.fromArray(F, c, o9) : z, r9b = add ? FloatVector.fromArray(F, c, o9 + L) : z;
        FloatVector r10a = add ? FloatVector.fromArray(F, c, o10) : z, r10b = add ? FloatVector.fromArray(F, c, o10 + L) : z;
        FloatVector r11a = add ? FloatVector.fromArray(F, c, o11) : z, r11b = add ? FloatVector.fromArray(F, c, o11 + L) : z;
        for (int p = 0; p < kc; p++) {
            int ap = aOff + p * aDepthStride, bp = bOff + p * NR;
            FloatVector b0 = FloatVector.fromArray(F, pb, bp);
            FloatVector b1 = FloatVector.fromArray(F, pb, bp + L);
            FloatVector a;
            a = FloatVector.broadcast(F, pa[ap]);  r0a = a.fma(b0, r0a);  r0b = a.fma(b1, r0b);
            a = FloatVector.broadcast(F, pa[ap + aRowStride]);  r1a = a.fma(b0, r1a);  r1b = a.fma(b1, r1b);
            a = FloatVector.broadcast(F, pa[ap + 2 * aRowStride]);  r2a = a.fma(b0, r2a);  r2b = a.fma(b1, r2b);
            a = FloatVector.broadcast(F, pa[ap + 3 * aRowStride]);  r3a = a.fma(b0, r3a);  r3b = a.fma(b1, r3b);
            a = FloatVector.broadcast(F, pa[ap + 4 * aRowStride]);  r4a = a.fma(b0, r4a);  r4b = a.fma(b1, r4b);
            a = FloatVector.broadcast(F, pa[ap + 5 * aRowStride]);  r5a = a.fma(b0, r5a);  r5b = a.fma(b1, r5b);
            a = FloatVector.broadcast(F, pa[ap + 6 * aRowStride]);  r6a = a.fma(b0, r6a);  r6b = a.fma(b1, r6b);
            a = FloatVector.broadcast(F, pa[ap + 7 * aRowStride]);  r7a = a.fma(b0, r7a);  r7b = a.fma(b1, r7b);
            a = FloatVector.broadcast(F, pa[ap + 8 * aRowStride]);  r8a = a.fma(b0, r8a);  r8b = a.fma(b1, r8b);
            a = FloatVector.broadcast(F, pa[ap + 9 * aRowStride]);  r9a = a.fma(b0, r9a);  r9b = a.fma(b1, r9b);
            a = FloatVector.broadcast(F, pa[ap + 10 * aRowStride]); r10a = a.fma(b0, r10a); r10b = a.fma(b1, r10b);
            a = FloatVector.broadcast(F, pa[ap + 11 * aRowStride]); r11a = a.fma(b0, r11a); r11b = a.fma(b1, r11b);
        }
        r0a.intoArray(c, o0);  r0b.intoArray(c, o0 + L);
        r1a.intoArray(c, o1);  r1b.intoArray(c, o1 + L);
        r2a.intoArray(c, o2);  r2b.intoArray(c, o2 + L);
        r3a.intoArray(c, o3);  r3b.intoArray(c, o3 + L);
        r4a.intoArray(c, o4);  r4b.intoArray(c, o4 + L);
        r5a.intoArray(c, o5);  r5b.intoArray(c, o5 + L);
        r6a.intoArray(c, o6);  r6b.intoArray(c, o6 + L);
        r7a.intoArray(c, o7);  r7b.intoArray(c, o7 + L);
        r8a.intoArray(c, o8);  r8b.intoArray(c, o8 + L);
        r9a.intoArray(c, o9);  r9b.intoArray(c, o9 + L);
        r10a.intoArray(c, o10); r10b.intoArray(c, o10 + L);
        r11a.intoArray(c, o11); r11b.intoArray(c, o11 + L);
    }

    /**
     * The same for a tile only one vector wide ({@code MR × L}): the last column panel of an output whose width is
     * just past a multiple of NR (e.g. 260 = 8·32 + 4) would otherwise spend a full tile on a few columns. B is still
     * the packed NR-wide panel; only its first L values per depth step are read.
     */
    static void multiplyHalf(int kc, float[] pa, int aOff, int aRowStride, int aDepthStride, float[] pb, int bOff,
                             float[] c, int cOff, int ldc, boolean add) {
        FloatVector z = FloatVector.zero(F);
        int o0 = cOff;
        int o1 = cOff + ldc;
        int o2 = cOff + 2 * ldc;
        int o3 = cOff + 3 * ldc;
        int o4 = cOff + 4 * ldc;
        int o5 = cOff + 5 * ldc;
        int o6 = cOff + 6 * ldc;
        int o7 = cOff + 7 * ldc;
        int o8 = cOff + 8 * ldc;
        int o9 = cOff + 9 * ldc;
        int o10 = cOff + 10 * ldc;
        int o11 = cOff + 11 * ldc;
        FloatVector r0 = add ? FloatVector.fromArray(F, c, o0) : z;
        FloatVector r1 = add ? FloatVector.fromArray(F, c, o1) : z;
        FloatVector r2 = add ? FloatVector.fromArray(F, c, o2) : z;
        FloatVector r3 = add ? FloatVector.fromArray(F, c, o3) : z;
        FloatVector r4 = add ? FloatVector.fromArray(F, c, o4) : z;
        FloatVector r5 = add ? FloatVector.fromArray(F, c, o5) : z;
        FloatVector r6 = add ? FloatVector.fromArray(F, c, o6) : z;
        FloatVector r7 = add ? FloatVector.fromArray(F, c, o7) : z;
        FloatVector r8 = add ? FloatVector.fromArray(F, c, o8) : z;
        FloatVector r9 = add ? FloatVector.fromArray(F, c, o9) : z;
        FloatVector r10 = add ? FloatVector.fromArray(F, c, o10) : z;
        FloatVector r11 = add ? FloatVector.fromArray(F, c, o11) : z;
        for (int p = 0; p < kc; p++) {
            int ap = aOff + p * aDepthStride;
            FloatVector b = FloatVector.fromArray(F, pb, bOff + p * NR);
            r0 = FloatVector.broadcast(F, pa[ap]).fma(b, r0);
            r1 = FloatVector.broadcast(F, pa[ap + aRowStride]).fma(b, r1);
            r2 = FloatVector.broadcast(F, pa[ap + 2 * aRowStride]).fma(b, r2);
            r3 = FloatVector.broadcast(F, pa[ap + 3 * aRowStride]).fma(b, r3);
            r4 = FloatVector.broadcast(F, pa[ap + 4 * aRowStride]).fma(b, r4);
            r5 = FloatVector.broadcast(F, pa[ap + 5 * aRowStride]).fma(b, r5);
            r6 = FloatVector.broadcast(F, pa[ap + 6 * aRowStride]).fma(b, r6);
            r7 = FloatVector.broadcast(F, pa[ap + 7 * aRowStride]).fma(b, r7);
            r8 = FloatVector.broadcast(F, pa[ap + 8 * aRowStride]).fma(b, r8);
            r9 = FloatVector.broadcast(F, pa[ap + 9 * aRowStride]).fma(b, r9);
            r10 = FloatVector.broadcast(F, pa[ap + 10 * aRowStride]).fma(b, r10);
            r11 = FloatVector.broadcast(F, pa[ap + 11 * aRowStride]).fma(b, r11);
        }
        r0.intoArray(c, o0);
        r1.intoArray(c, o1);
        r2.intoArray(c, o2);
        r3.intoArray(c, o3);
        r4.intoArray(c, o4);
        r5.intoArray(c, o5);
        r6.intoArray(c, o6);
        r7.intoArray(c, o7);
        r8.intoArray(c, o8);
        r9.intoArray(c, o9);
        r10.intoArray(c, o10);
        r11.intoArray(c, o11);
    }
}

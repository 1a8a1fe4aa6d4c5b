package dev.patchwork.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The register-tiled inner kernels of {@link GemmEngine}: one {@code MR × NR} tile of C (or a narrower one for the
 * last columns) from a panel of A (MR rows by {@code kc} depth steps at any two strides: a packed panel, or the
 * caller's array read in place) and a packed panel of B ({@code kc × NR}, NR consecutive values per depth step), both
 * in plain {@code float[]} so the loop touches no MemorySegment.
 *
 * <p>Why 6 × (4 vectors): 24 accumulators stay in registers (plus 4 B vectors and 1 broadcast: 29 of the 32 AVX-512
 * registers), far more independent FMA chains than latency × throughput needs, and each depth step does 24 FMAs for
 * 4 vector loads and 6 broadcasts. The previous 12 × (2 vectors) tile has the same ratio of FMAs to registers but
 * needs twelve row offsets of A in general-purpose registers when the strides are not constants (A read in place,
 * which is what training's narrow products do): with the JIT's 13 usable registers that spilled, and at kc = 128 that
 * kernel ran at 87 GFLOP/s against 104–109 for this one on the same core (at kc = 384 both reach about 108). With a
 * narrower species the same code is correct; NR shrinks with the vector length.
 *
 * <p>Why C is loaded into the accumulators up front (when adding) and stored once at the end, with no helper methods:
 * C2 compiles a kernel only if all its Vector API calls fit its inlining node budget; a version that added C
 * through a helper after the loop was cut off (NodeCountInliningCutoff) and ran ten times slower with boxed vectors.
 */
final class GemmKernel {
    static final VectorSpecies<Float> F = Simd.F;
    /** Vector lanes, a quarter of {@link #NR}. */
    static final int L = F.length();
    /** Rows of the register tile. */
    static final int MR = 6;
    /** Columns of the register tile: four vectors. */
    static final int NR = 4 * L;

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
        FloatVector r0a = add ? FloatVector.fromArray(F, c, o0) : z;
        FloatVector r0b = add ? FloatVector.fromArray(F, c, o0 + L) : z;
        FloatVector r0c = add ? FloatVector.fromArray(F, c, o0 + 2 * L) : z;
        FloatVector r0d = add ? FloatVector.fromArray(F, c, o0 + 3 * L) : z;
        FloatVector r1a = add ? FloatVector.fromArray(F, c, o1) : z;
        FloatVector r1b = add ? FloatVector.fromArray(F, c, o1 + L) : z;
        FloatVector r1c = add ? FloatVector.fromArray(F, c, o1 + 2 * L) : z;
        FloatVector r1d = add ? FloatVector.fromArray(F, c, o1 + 3 * L) : z;
        FloatVector r2a = add ? FloatVector.fromArray(F, c, o2) : z;
        FloatVector r2b = add ? FloatVector.fromArray(F, c, o2 + L) : z;
        FloatVector r2c = add ? FloatVector.fromArray(F, c, o2 + 2 * L) : z;
        FloatVector r2d = add ? FloatVector.fromArray(F, c, o2 + 3 * L) : z;
        FloatVector r3a = add ? FloatVector.fromArray(F, c, o3) : z;
        FloatVector r3b = add ? FloatVector.fromArray(F, c, o3 + L) : z;
        FloatVector r3c = add ? FloatVector.fromArray(F, c, o3 + 2 * L) : z;
        FloatVector r3d = add ? FloatVector.fromArray(F, c, o3 + 3 * L) : z;
        FloatVector r4a = add ? FloatVector.fromArray(F, c, o4) : z;
        FloatVector r4b = add ? FloatVector.fromArray(F, c, o4 + L) : z;
        FloatVector r4c = add ? FloatVector.fromArray(F, c, o4 + 2 * L) : z;
        FloatVector r4d = add ? FloatVector.fromArray(F, c, o4 + 3 * L) : z;
        FloatVector r5a = add ? FloatVector.fromArray(F, c, o5) : z;
        FloatVector r5b = add ? FloatVector.fromArray(F, c, o5 + L) : z;
        FloatVector r5c = add ? FloatVector.fromArray(F, c, o5 + 2 * L) : z;
        FloatVector r5d = add ? FloatVector.fromArray(F, c, o5 + 3 * L) : z;
        for (int p = 0; p < kc; p++) {
            int ap = aOff + p * aDepthStride, bp = bOff + p * NR;
            FloatVector b0 = FloatVector.fromArray(F, pb, bp);
            FloatVector b1 = FloatVector.fromArray(F, pb, bp + L);
            FloatVector b2 = FloatVector.fromArray(F, pb, bp + 2 * L);
            FloatVector b3 = FloatVector.fromArray(F, pb, bp + 3 * L);
            FloatVector a;
            a = FloatVector.broadcast(F, pa[ap]);
            r0a = a.fma(b0, r0a);  r0b = a.fma(b1, r0b);  r0c = a.fma(b2, r0c);  r0d = a.fma(b3, r0d);
            a = FloatVector.broadcast(F, pa[ap + aRowStride]);
            r1a = a.fma(b0, r1a);  r1b = a.fma(b1, r1b);  r1c = a.fma(b2, r1c);  r1d = a.fma(b3, r1d);
            a = FloatVector.broadcast(F, pa[ap + 2 * aRowStride]);
            r2a = a.fma(b0, r2a);  r2b = a.fma(b1, r2b);  r2c = a.fma(b2, r2c);  r2d = a.fma(b3, r2d);
            a = FloatVector.broadcast(F, pa[ap + 3 * aRowStride]);
            r3a = a.fma(b0, r3a);  r3b = a.fma(b1, r3b);  r3c = a.fma(b2, r3c);  r3d = a.fma(b3, r3d);
            a = FloatVector.broadcast(F, pa[ap + 4 * aRowStride]);
            r4a = a.fma(b0, r4a);  r4b = a.fma(b1, r4b);  r4c = a.fma(b2, r4c);  r4d = a.fma(b3, r4d);
            a = FloatVector.broadcast(F, pa[ap + 5 * aRowStride]);
            r5a = a.fma(b0, r5a);  r5b = a.fma(b1, r5b);  r5c = a.fma(b2, r5c);  r5d = a.fma(b3, r5d);
        }
        r0a.intoArray(c, o0);  r0b.intoArray(c, o0 + L);  r0c.intoArray(c, o0 + 2 * L);  r0d.intoArray(c, o0 + 3 * L);
        r1a.intoArray(c, o1);  r1b.intoArray(c, o1 + L);  r1c.intoArray(c, o1 + 2 * L);  r1d.intoArray(c, o1 + 3 * L);
        r2a.intoArray(c, o2);  r2b.intoArray(c, o2 + L);  r2c.intoArray(c, o2 + 2 * L);  r2d.intoArray(c, o2 + 3 * L);
        r3a.intoArray(c, o3);  r3b.intoArray(c, o3 + L);  r3c.intoArray(c, o3 + 2 * L);  r3d.intoArray(c, o3 + 3 * L);
        r4a.intoArray(c, o4);  r4b.intoArray(c, o4 + L);  r4c.intoArray(c, o4 + 2 * L);  r4d.intoArray(c, o4 + 3 * L);
        r5a.intoArray(c, o5);  r5b.intoArray(c, o5 + L);  r5c.intoArray(c, o5 + 2 * L);  r5d.intoArray(c, o5 + 3 * L);
    }

    /**
     * The same for a tile two vectors wide ({@code MR × 2L}): the last column panel of an output whose width is not a
     * multiple of NR (e.g. 352 = 5·64 + 32) would otherwise spend a full tile on half as many columns. B is still the
     * packed NR-wide panel; only its first two vectors per depth step are read.
     */
    static void multiply2(int kc, float[] pa, int aOff, int aRowStride, int aDepthStride, float[] pb, int bOff,
                         float[] c, int cOff, int ldc, boolean add) {
        FloatVector z = FloatVector.zero(F);
        int o0 = cOff;
        int o1 = cOff + ldc;
        int o2 = cOff + 2 * ldc;
        int o3 = cOff + 3 * ldc;
        int o4 = cOff + 4 * ldc;
        int o5 = cOff + 5 * ldc;
        FloatVector r0a = add ? FloatVector.fromArray(F, c, o0) : z;
        FloatVector r0b = add ? FloatVector.fromArray(F, c, o0 + L) : z;
        FloatVector r1a = add ? FloatVector.fromArray(F, c, o1) : z;
        FloatVector r1b = add ? FloatVector.fromArray(F, c, o1 + L) : z;
        FloatVector r2a = add ? FloatVector.fromArray(F, c, o2) : z;
        FloatVector r2b = add ? FloatVector.fromArray(F, c, o2 + L) : z;
        FloatVector r3a = add ? FloatVector.fromArray(F, c, o3) : z;
        FloatVector r3b = add ? FloatVector.fromArray(F, c, o3 + L) : z;
        FloatVector r4a = add ? FloatVector.fromArray(F, c, o4) : z;
        FloatVector r4b = add ? FloatVector.fromArray(F, c, o4 + L) : z;
        FloatVector r5a = add ? FloatVector.fromArray(F, c, o5) : z;
        FloatVector r5b = add ? FloatVector.fromArray(F, c, o5 + L) : z;
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
        }
        r0a.intoArray(c, o0);  r0b.intoArray(c, o0 + L);
        r1a.intoArray(c, o1);  r1b.intoArray(c, o1 + L);
        r2a.intoArray(c, o2);  r2b.intoArray(c, o2 + L);
        r3a.intoArray(c, o3);  r3b.intoArray(c, o3 + L);
        r4a.intoArray(c, o4);  r4b.intoArray(c, o4 + L);
        r5a.intoArray(c, o5);  r5b.intoArray(c, o5 + L);
    }

    /** The same for a tile one vector wide ({@code MR × L}), e.g. the last 4 columns of 260 = 4·64 + 4. */
    static void multiply1(int kc, float[] pa, int aOff, int aRowStride, int aDepthStride, float[] pb, int bOff,
                         float[] c, int cOff, int ldc, boolean add) {
        FloatVector z = FloatVector.zero(F);
        int o0 = cOff;
        int o1 = cOff + ldc;
        int o2 = cOff + 2 * ldc;
        int o3 = cOff + 3 * ldc;
        int o4 = cOff + 4 * ldc;
        int o5 = cOff + 5 * ldc;
        FloatVector r0a = add ? FloatVector.fromArray(F, c, o0) : z;
        FloatVector r1a = add ? FloatVector.fromArray(F, c, o1) : z;
        FloatVector r2a = add ? FloatVector.fromArray(F, c, o2) : z;
        FloatVector r3a = add ? FloatVector.fromArray(F, c, o3) : z;
        FloatVector r4a = add ? FloatVector.fromArray(F, c, o4) : z;
        FloatVector r5a = add ? FloatVector.fromArray(F, c, o5) : z;
        for (int p = 0; p < kc; p++) {
            int ap = aOff + p * aDepthStride, bp = bOff + p * NR;
            FloatVector b0 = FloatVector.fromArray(F, pb, bp);
            FloatVector a;
            a = FloatVector.broadcast(F, pa[ap]);  r0a = a.fma(b0, r0a);
            a = FloatVector.broadcast(F, pa[ap + aRowStride]);  r1a = a.fma(b0, r1a);
            a = FloatVector.broadcast(F, pa[ap + 2 * aRowStride]);  r2a = a.fma(b0, r2a);
            a = FloatVector.broadcast(F, pa[ap + 3 * aRowStride]);  r3a = a.fma(b0, r3a);
            a = FloatVector.broadcast(F, pa[ap + 4 * aRowStride]);  r4a = a.fma(b0, r4a);
            a = FloatVector.broadcast(F, pa[ap + 5 * aRowStride]);  r5a = a.fma(b0, r5a);
        }
        r0a.intoArray(c, o0);
        r1a.intoArray(c, o1);
        r2a.intoArray(c, o2);
        r3a.intoArray(c, o3);
        r4a.intoArray(c, o4);
        r5a.intoArray(c, o5);
    }
}

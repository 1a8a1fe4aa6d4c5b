package dev.patchwork.tensor;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import static dev.patchwork.tensor.ParameterBuffer.F32;

/**
 * {@code y = x·Wᵀ} for a handful of rows (token-by-token generation: M = 1), as dot products straight from the weight
 * segment. The packed GEMM would copy all of W into panels for a single row and fill 12-row tiles with one useful
 * row; here each weight row is read once from memory (and again from L1 for the other rows), which is all a
 * memory-bound product can ask for.
 */
final class GemvKernel {
    /** Up to this many rows go through dot products; more rows amortise the packed GEMM's copies. */
    static final int MAX_ROWS = 4;
    /** Below this many multiply-adds the dot products run on the calling thread. */
    private static final long PARALLEL_MIN_FMAS = 1L << 18;

    private static final VectorSpecies<Float> F = Simd.F;
    private static final int L = F.length();
    private static final ByteOrder ORDER = ByteOrder.LITTLE_ENDIAN;

    private GemvKernel() {}

    /** Same contract as {@link Matmul#xwT}, for {@code M <= MAX_ROWS}. */
    static void xwT(float[] y, int yOff, float[] x, int xOff, MemorySegment w, long wOff, int M, int N, int K,
                    boolean accumulate) {
        long fmas = (long) M * N * K;
        Parallel.RangeBody body = (n0, n1) -> {
            int n = n0;
            if (M == 1) { // generation: four weight rows per pass, one read of x for all four
                for (; n + 4 <= n1; n += 4) dot4(x, xOff, w, (wOff + (long) n * K) * Float.BYTES, K, y, yOff + n, accumulate);
            }
            for (; n < n1; n++) {
                long wRow = (wOff + (long) n * K) * Float.BYTES;
                for (int i = 0; i < M; i++) {
                    float s = dot(x, xOff + i * K, w, wRow, K);
                    int o = yOff + i * N + n;
                    y[o] = accumulate ? y[o] + s : s;
                }
            }
        };
        if (fmas < PARALLEL_MIN_FMAS || !Parallel.sharedAcrossThreads(w)) body.run(0, N);
        else Parallel.forRange(N, body);
    }

    /**
     * {@code y[yo + r] (+)= Σ x[xo+k]·w_r[k]} for the four consecutive weight rows {@code r = 0..3} starting at byte
     * {@code wb}. Four rows at once keep four memory streams in flight (one row at a time reached about half of the
     * measured read bandwidth) and load each vector of x once for four FMAs; the four accumulators are independent.
     * A row's sum is accumulated in a different order than {@link #dot}'s (one accumulator instead of four): the
     * same within float reassociation, and deterministic.
     */
    private static void dot4(float[] x, int xo, MemorySegment w, long wb, int K, float[] y, int yo, boolean accumulate) {
        long rb = (long) K * Float.BYTES;
        FloatVector s0 = FloatVector.zero(F), s1 = s0, s2 = s0, s3 = s0;
        int k = 0;
        for (int end = K - L; k <= end; k += L) {
            FloatVector xv = FloatVector.fromArray(F, x, xo + k);
            long b = wb + (long) k * Float.BYTES;
            s0 = xv.fma(FloatVector.fromMemorySegment(F, w, b, ORDER), s0);
            s1 = xv.fma(FloatVector.fromMemorySegment(F, w, b + rb, ORDER), s1);
            s2 = xv.fma(FloatVector.fromMemorySegment(F, w, b + 2 * rb, ORDER), s2);
            s3 = xv.fma(FloatVector.fromMemorySegment(F, w, b + 3 * rb, ORDER), s3);
        }
        float t0 = VectorMath.sum(s0), t1 = VectorMath.sum(s1), t2 = VectorMath.sum(s2), t3 = VectorMath.sum(s3);
        for (; k < K; k++) {
            float xk = x[xo + k];
            long b = wb + (long) k * Float.BYTES;
            t0 += xk * w.get(F32, b);
            t1 += xk * w.get(F32, b + rb);
            t2 += xk * w.get(F32, b + 2 * rb);
            t3 += xk * w.get(F32, b + 3 * rb);
        }
        y[yo] = accumulate ? y[yo] + t0 : t0;
        y[yo + 1] = accumulate ? y[yo + 1] + t1 : t1;
        y[yo + 2] = accumulate ? y[yo + 2] + t2 : t2;
        y[yo + 3] = accumulate ? y[yo + 3] + t3 : t3;
    }

    /** {@code Σ x[xo+k]·w[k]} over K floats starting at byte {@code wb}: four accumulators hide the FMA latency. */
    private static float dot(float[] x, int xo, MemorySegment w, long wb, int K) {
        FloatVector s0 = FloatVector.zero(F), s1 = s0, s2 = s0, s3 = s0;
        int k = 0;
        for (int end = K - 4 * L; k <= end; k += 4 * L) {
            long b = wb + (long) k * Float.BYTES;
            s0 = FloatVector.fromArray(F, x, xo + k).fma(FloatVector.fromMemorySegment(F, w, b, ORDER), s0);
            s1 = FloatVector.fromArray(F, x, xo + k + L)
                    .fma(FloatVector.fromMemorySegment(F, w, b + (long) L * Float.BYTES, ORDER), s1);
            s2 = FloatVector.fromArray(F, x, xo + k + 2 * L)
                    .fma(FloatVector.fromMemorySegment(F, w, b + 2L * L * Float.BYTES, ORDER), s2);
            s3 = FloatVector.fromArray(F, x, xo + k + 3 * L)
                    .fma(FloatVector.fromMemorySegment(F, w, b + 3L * L * Float.BYTES, ORDER), s3);
        }
        for (int end = K - L; k <= end; k += L) {
            s0 = FloatVector.fromArray(F, x, xo + k)
                    .fma(FloatVector.fromMemorySegment(F, w, wb + (long) k * Float.BYTES, ORDER), s0);
        }
        float s = VectorMath.sum(s0.add(s1).add(s2.add(s3)));
        for (; k < K; k++) s += x[xo + k] * w.get(F32, wb + (long) k * Float.BYTES);
        return s;
    }
}

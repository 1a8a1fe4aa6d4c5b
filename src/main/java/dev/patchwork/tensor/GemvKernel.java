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
            for (int n = n0; n < n1; n++) {
                long wRow = (wOff + (long) n * K) * Float.BYTES;
                for (int i = 0; i < M; i++) {
                    float s = dot(x, xOff + i * K, w, wRow, K);
                    int o = yOff + i * N + n;
                    y[o] = accumulate ? y[o] + s : s;
                }
            }
        };
        if (fmas < PARALLEL_MIN_FMAS || !GemmEngine.sharedAcrossThreads(w)) body.run(0, N);
        else Parallel.forRange(N, body);
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

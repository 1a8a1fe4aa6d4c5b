package dev.patchwork.tensor;

import java.lang.foreign.MemorySegment;

import static dev.patchwork.tensor.ParameterBuffer.F32;

/**
 * Matrix multiply in the three forms training needs. Weights are stored as PyTorch stores a Linear: {@code W[N,K]}
 * (out × in), in a {@link MemorySegment} (parameter or gradient buffer, offsets in floats); activations are
 * row-major {@code float[]}.
 * <ul>
 *   <li>{@link #xwT}: {@code Y[M,N] = X[M,K]·Wᵀ} (forward of a Linear);</li>
 *   <li>{@link #dyW}: {@code dX[M,K] (+)= dY[M,N]·W} (gradient with respect to the input);</li>
 *   <li>{@link #dyTx}: {@code dW[N,K] += dY[M,N]ᵀ·X} (gradient with respect to the weight).</li>
 * </ul>
 * Each form has a scalar twin ({@code ...Scalar}) that is the test oracle; the fast path is {@link GemmEngine}, one
 * packed, cache-blocked, register-tiled GEMM whose operand strides absorb the transpositions of the three forms
 * (plus {@link GemvKernel} for {@code xwT} on a few rows, as in token-by-token generation). Calls are safe from any
 * thread, also from inside a {@link Parallel} region (they then run on the calling thread); segments of a confined
 * arena work too (on the calling thread only). With the same thread count, results are bit-identical run to run.
 */
public final class Matmul {
    private Matmul() {}

    /** {@code y[M,N] = x[M,K]·w[N,K]ᵀ}, or {@code +=} when {@code accumulate}. */
    public static void xwT(float[] y, int yOff, float[] x, int xOff, MemorySegment w, long wOff,
                           int M, int N, int K, boolean accumulate) {
        checkShape("xwT", M, N, K);
        checkArray("xwT", "y", y, yOff, M, N);
        checkArray("xwT", "x", x, xOff, M, K);
        checkSegment("xwT", "w", w, wOff, N, K);
        if (Simd.SCALAR) {
            xwTScalar(y, yOff, x, xOff, w, wOff, M, N, K, accumulate);
            return;
        }
        if (M <= GemvKernel.MAX_ROWS) {
            GemvKernel.xwT(y, yOff, x, xOff, w, wOff, M, N, K, accumulate);
            return;
        }
        // rows = M, cols = N, depth = K; B(k, n) = w[n*K + k] is the weight read transposed.
        GemmEngine.run(GemmEngine.task(M, N, K)
                .a(x, xOff, K, 1)
                .b(null, w, wOff, 1, K)
                .c(y, null, yOff, N, accumulate));
    }

    /** {@code dx[M,K] = dy[M,N]·w[N,K]}, or {@code +=} when {@code accumulate}. */
    public static void dyW(float[] dx, int dxOff, float[] dy, int dyOff, MemorySegment w, long wOff,
                           int M, int N, int K, boolean accumulate) {
        checkShape("dyW", M, N, K);
        checkArray("dyW", "dx", dx, dxOff, M, K);
        checkArray("dyW", "dy", dy, dyOff, M, N);
        checkSegment("dyW", "w", w, wOff, N, K);
        if (Simd.SCALAR) {
            dyWScalar(dx, dxOff, dy, dyOff, w, wOff, M, N, K, accumulate);
            return;
        }
        // rows = M, cols = K, depth = N; B(n, k) = w[n*K + k] is the weight as stored.
        GemmEngine.run(GemmEngine.task(M, K, N)
                .a(dy, dyOff, N, 1)
                .b(null, w, wOff, K, 1)
                .c(dx, null, dxOff, K, accumulate));
    }

    /** {@code dw[N,K] += dy[M,N]ᵀ·x[M,K]}. */
    public static void dyTx(MemorySegment dw, long dwOff, float[] dy, int dyOff, float[] x, int xOff,
                            int M, int N, int K) {
        checkShape("dyTx", M, N, K);
        checkSegment("dyTx", "dw", dw, dwOff, N, K);
        checkArray("dyTx", "dy", dy, dyOff, M, N);
        checkArray("dyTx", "x", x, xOff, M, K);
        if (Simd.SCALAR) {
            dyTxScalar(dw, dwOff, dy, dyOff, x, xOff, M, N, K);
            return;
        }
        // rows = N, cols = K, depth = M; A(n, m) = dy[m*N + n] is dy read transposed.
        GemmEngine.run(GemmEngine.task(N, K, M)
                .a(dy, dyOff, 1, N)
                .b(x, null, xOff, K, 1)
                .c(null, dw, dwOff, K, true));
    }

    private static void checkShape(String form, int M, int N, int K) {
        if (M < 0 || N < 0 || K < 0)
            throw new IllegalArgumentException("Matmul." + form + ": dimensions must be >= 0, got M=" + M + ", N=" + N
                    + ", K=" + K);
    }

    private static void checkArray(String form, String name, float[] a, int off, int rows, int cols) {
        long need = (long) rows * cols;
        if (a == null)
            throw new IllegalArgumentException("Matmul." + form + ": " + name + " is null; pass an array of "
                    + rows + "x" + cols + " floats");
        if (off < 0 || off + need > a.length)
            throw new IllegalArgumentException("Matmul." + form + ": " + name + " needs " + rows + "x" + cols + " = "
                    + need + " floats from offset " + off + " but the array holds " + a.length
                    + "; pass a larger array or fix the offset/shape");
    }

    private static void checkSegment(String form, String name, MemorySegment s, long off, int rows, int cols) {
        long need = (long) rows * cols;
        if (s == null)
            throw new IllegalArgumentException("Matmul." + form + ": " + name + " is null; pass a segment of "
                    + rows + "x" + cols + " floats");
        if (off < 0 || (off + need) * Float.BYTES > s.byteSize())
            throw new IllegalArgumentException("Matmul." + form + ": " + name + " needs " + rows + "x" + cols + " = "
                    + need + " floats from float offset " + off + " but the segment holds " + s.byteSize() / Float.BYTES
                    + "; pass a larger segment or fix the offset/shape");
    }

    public static void xwTScalar(float[] y, int yOff, float[] x, int xOff, MemorySegment w, long wOff,
                                 int M, int N, int K, boolean accumulate) {
        for (int i = 0; i < M; i++) {
            for (int n = 0; n < N; n++) {
                float s = 0f;
                long wr = wOff + (long) n * K;
                for (int k = 0; k < K; k++) s += x[xOff + i * K + k] * w.getAtIndex(F32, wr + k);
                int o = yOff + i * N + n;
                y[o] = accumulate ? y[o] + s : s;
            }
        }
    }

    public static void dyWScalar(float[] dx, int dxOff, float[] dy, int dyOff, MemorySegment w, long wOff,
                                 int M, int N, int K, boolean accumulate) {
        for (int i = 0; i < M; i++) {
            for (int k = 0; k < K; k++) {
                float s = 0f;
                for (int n = 0; n < N; n++) s += dy[dyOff + i * N + n] * w.getAtIndex(F32, wOff + (long) n * K + k);
                int o = dxOff + i * K + k;
                dx[o] = accumulate ? dx[o] + s : s;
            }
        }
    }

    public static void dyTxScalar(MemorySegment dw, long dwOff, float[] dy, int dyOff, float[] x, int xOff,
                                  int M, int N, int K) {
        for (int n = 0; n < N; n++) {
            for (int k = 0; k < K; k++) {
                float s = 0f;
                for (int i = 0; i < M; i++) s += dy[dyOff + i * N + n] * x[xOff + i * K + k];
                long o = dwOff + (long) n * K + k;
                dw.setAtIndex(F32, o, dw.getAtIndex(F32, o) + s);
            }
        }
    }
}

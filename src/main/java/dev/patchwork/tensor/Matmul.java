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
 * Each form has a scalar twin ({@code ...Scalar}) that is the test oracle.
 */
public final class Matmul {
    private Matmul() {}

    /** {@code y[M,N] = x[M,K]·w[N,K]ᵀ}, or {@code +=} when {@code accumulate}. */
    public static void xwT(float[] y, int yOff, float[] x, int xOff, MemorySegment w, long wOff,
                           int M, int N, int K, boolean accumulate) {
        xwTScalar(y, yOff, x, xOff, w, wOff, M, N, K, accumulate);
    }

    /** {@code dx[M,K] = dy[M,N]·w[N,K]}, or {@code +=} when {@code accumulate}. */
    public static void dyW(float[] dx, int dxOff, float[] dy, int dyOff, MemorySegment w, long wOff,
                           int M, int N, int K, boolean accumulate) {
        dyWScalar(dx, dxOff, dy, dyOff, w, wOff, M, N, K, accumulate);
    }

    /** {@code dw[N,K] += dy[M,N]ᵀ·x[M,K]}. */
    public static void dyTx(MemorySegment dw, long dwOff, float[] dy, int dyOff, float[] x, int xOff,
                            int M, int N, int K) {
        dyTxScalar(dw, dwOff, dy, dyOff, x, xOff, M, N, K);
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

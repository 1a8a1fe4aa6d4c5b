package dev.patchwork.tensor;

import java.lang.foreign.MemorySegment;

import static dev.patchwork.tensor.ParameterBuffer.F32;

/**
 * RMSNorm over rows of {@code d} values: {@code y = x / sqrt(mean(x²) + eps) * w}, as torch's {@code nn.RMSNorm}.
 * Forward stores the reciprocal RMS of every row ({@code rstd}) for the backward pass.
 */
public final class RmsNormKernel {
    private RmsNormKernel() {}

    public static void forward(float[] x, int xOff, MemorySegment w, long wOff, float[] y, int yOff,
                               float[] rstd, int rows, int d, float eps) {
        forwardScalar(x, xOff, w, wOff, y, yOff, rstd, rows, d, eps);
    }

    /** {@code dx += ∂L/∂x}; {@code dw += ∂L/∂w} (dw may be null when the weight is frozen). */
    public static void backward(float[] dy, int dyOff, float[] x, int xOff, MemorySegment w, long wOff, float[] rstd,
                                float[] dx, int dxOff, MemorySegment dw, long dwOff, int rows, int d) {
        backwardScalar(dy, dyOff, x, xOff, w, wOff, rstd, dx, dxOff, dw, dwOff, rows, d);
    }

    public static void forwardScalar(float[] x, int xOff, MemorySegment w, long wOff, float[] y, int yOff,
                                     float[] rstd, int rows, int d, float eps) {
        for (int r = 0; r < rows; r++) {
            int xr = xOff + r * d;
            float ss = 0f;
            for (int i = 0; i < d; i++) ss += x[xr + i] * x[xr + i];
            float s = (float) (1.0 / Math.sqrt(ss / d + eps));
            if (rstd != null) rstd[r] = s;
            int yr = yOff + r * d;
            for (int i = 0; i < d; i++) y[yr + i] = x[xr + i] * s * w.getAtIndex(F32, wOff + i);
        }
    }

    public static void backwardScalar(float[] dy, int dyOff, float[] x, int xOff, MemorySegment w, long wOff,
                                      float[] rstd, float[] dx, int dxOff, MemorySegment dw, long dwOff,
                                      int rows, int d) {
        for (int r = 0; r < rows; r++) {
            int xr = xOff + r * d, gr = dyOff + r * d, dr = dxOff + r * d;
            float s = rstd[r];
            // y_i = x_i s w_i with s = (mean(x²)+eps)^-1/2  ⇒  dx_i = s (w_i dy_i) − x_i s³/d Σ_j (w_j dy_j x_j)
            float dot = 0f;
            for (int i = 0; i < d; i++) dot += w.getAtIndex(F32, wOff + i) * dy[gr + i] * x[xr + i];
            float c = dot * s * s * s / d;
            for (int i = 0; i < d; i++) dx[dr + i] += s * w.getAtIndex(F32, wOff + i) * dy[gr + i] - c * x[xr + i];
            if (dw != null) {
                for (int i = 0; i < d; i++) {
                    long o = dwOff + i;
                    dw.setAtIndex(F32, o, dw.getAtIndex(F32, o) + dy[gr + i] * x[xr + i] * s);
                }
            }
        }
    }
}

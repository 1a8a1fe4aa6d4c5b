package dev.patchwork.tensor;

/**
 * SwiGLU gate {@code g = silu(a) ⊙ b} with {@code silu(a) = a·σ(a)}. Inputs come from one fused projection: each row
 * of {@code h} holds {@code a} (the w1 output, {@code F} values) followed by {@code b} (the w3 output, {@code F}
 * values).
 */
public final class SwiGluKernel {
    private SwiGluKernel() {}

    public static void forward(float[] h, float[] g, int rows, int F) {
        forwardScalar(h, g, rows, F);
    }

    /** Writes {@code dh} (both halves, overwriting) from {@code dg}. */
    public static void backward(float[] h, float[] dg, float[] dh, int rows, int F) {
        backwardScalar(h, dg, dh, rows, F);
    }

    public static float silu(float a) {
        return a / (1f + (float) Math.exp(-a));
    }

    public static void forwardScalar(float[] h, float[] g, int rows, int F) {
        for (int r = 0; r < rows; r++) {
            int hr = r * 2 * F, gr = r * F;
            for (int i = 0; i < F; i++) g[gr + i] = silu(h[hr + i]) * h[hr + F + i];
        }
    }

    public static void backwardScalar(float[] h, float[] dg, float[] dh, int rows, int F) {
        for (int r = 0; r < rows; r++) {
            int hr = r * 2 * F, gr = r * F;
            for (int i = 0; i < F; i++) {
                float a = h[hr + i], b = h[hr + F + i];
                float sig = 1f / (1f + (float) Math.exp(-a));
                float silu = a * sig;
                // d silu/da = σ(a)·(1 + a·(1 − σ(a)))
                dh[hr + i] = dg[gr + i] * b * sig * (1f + a * (1f - sig));
                dh[hr + F + i] = dg[gr + i] * silu;
            }
        }
    }
}

package dev.patchwork.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * SwiGLU gate {@code g = silu(a) ⊙ b} with {@code silu(a) = a·σ(a)}. Inputs come from one fused projection: each row
 * of {@code h} holds {@code a} (the w1 output, {@code F} values) followed by {@code b} (the w3 output, {@code F}
 * values).
 *
 * <p>The vector versions use {@link VectorMath#exp} (within a few ulps of {@link Math#exp}), so they differ from the
 * scalar twins by float rounding only.
 */
public final class SwiGluKernel {
    private static final VectorSpecies<Float> S = Simd.F;
    private static final int LANES = Simd.LANES;

    private SwiGluKernel() {}

    public static void forward(float[] h, float[] g, int rows, int F) {
        if (Simd.SCALAR) forwardScalar(h, g, rows, F);
        else forwardVector(h, g, rows, F);
    }

    /** Writes {@code dh} (both halves, overwriting) from {@code dg}. */
    public static void backward(float[] h, float[] dg, float[] dh, int rows, int F) {
        if (Simd.SCALAR) backwardScalar(h, dg, dh, rows, F);
        else backwardVector(h, dg, dh, rows, F);
    }

    public static float silu(float a) {
        return a / (1f + (float) Math.exp(-a));
    }

    public static void forwardScalar(float[] h, float[] g, int rows, int F) {
        for (int r = 0; r < rows; r++) forwardTail(h, g, r, F, 0);
    }

    public static void backwardScalar(float[] h, float[] dg, float[] dh, int rows, int F) {
        for (int r = 0; r < rows; r++) backwardTail(h, dg, dh, r, F, 0);
    }

    /** Scalar forward of columns {@code [from, F)} of row {@code r}: the whole scalar twin, or a vector loop's tail. */
    private static void forwardTail(float[] h, float[] g, int r, int F, int from) {
        int hr = r * 2 * F, gr = r * F;
        for (int i = from; i < F; i++) g[gr + i] = silu(h[hr + i]) * h[hr + F + i];
    }

    /** Scalar backward of columns {@code [from, F)} of row {@code r}. */
    private static void backwardTail(float[] h, float[] dg, float[] dh, int r, int F, int from) {
        int hr = r * 2 * F, gr = r * F;
        for (int i = from; i < F; i++) {
            float a = h[hr + i], b = h[hr + F + i];
            float sig = 1f / (1f + (float) Math.exp(-a));
            float silu = a * sig;
            // d silu/da = σ(a)·(1 + a·(1 − σ(a)))
            dh[hr + i] = dg[gr + i] * b * sig * (1f + a * (1f - sig));
            dh[hr + F + i] = dg[gr + i] * silu;
        }
    }

    static void forwardVector(float[] h, float[] g, int rows, int F) {
        ParallelRows.forRows(rows, 2L * F, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int hr = r * 2 * F, gr = r * F;
                int i = 0;
                for (int bound = S.loopBound(F); i < bound; i += LANES) {
                    FloatVector a = FloatVector.fromArray(S, h, hr + i), b = FloatVector.fromArray(S, h, hr + F + i);
                    FloatVector silu = a.div(VectorMath.exp(a.neg()).add(1f));
                    silu.mul(b).intoArray(g, gr + i);
                }
                forwardTail(h, g, r, F, i);
            }
        });
    }

    static void backwardVector(float[] h, float[] dg, float[] dh, int rows, int F) {
        ParallelRows.forRows(rows, 3L * F, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int hr = r * 2 * F, gr = r * F;
                int i = 0;
                for (int bound = S.loopBound(F); i < bound; i += LANES) {
                    FloatVector a = FloatVector.fromArray(S, h, hr + i), b = FloatVector.fromArray(S, h, hr + F + i);
                    FloatVector d = FloatVector.fromArray(S, dg, gr + i);
                    FloatVector sig = FloatVector.broadcast(S, 1f).div(VectorMath.exp(a.neg()).add(1f));
                    FloatVector slope = a.mul(sig.neg().add(1f)).add(1f); // 1 + a·(1 − σ); times σ below
                    d.mul(b).mul(sig).mul(slope).intoArray(dh, hr + i);
                    d.mul(a.mul(sig)).intoArray(dh, hr + F + i);
                }
                backwardTail(h, dg, dh, r, F, i);
            }
        });
    }
}

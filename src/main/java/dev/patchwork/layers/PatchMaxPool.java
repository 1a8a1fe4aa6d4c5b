package dev.patchwork.layers;

import java.util.Arrays;

/**
 * Max-pooling of byte states into patch vectors (the reference's {@code downsample(..., "max")}, a
 * {@code scatter_reduce("amax", include_self=False)} into zeros): patch {@code p} is the elementwise maximum of the
 * rows {@code [from[p], to[p])}; a patch with no bytes is 0 (never −∞).
 *
 * <p>Forward keeps, for every output value, the row it came from; backward routes the gradient to that row only (the
 * first maximum on a tie, which float byte states practically never produce).
 */
public final class PatchMaxPool {
    private final int dim;
    private int[] argmax = new int[0];
    private int patches;

    public PatchMaxPool(int dim) {
        this.dim = dim;
    }

    /** {@code out[p·dim + d] = max_{r ∈ [from[p], to[p])} h[r·dim + d]}, or 0 for an empty interval. */
    public void forward(float[] h, int patches, int[] from, int[] to, float[] out) {
        this.patches = patches;
        if (argmax.length < patches * dim) argmax = new int[patches * dim];
        for (int p = 0; p < patches; p++) {
            int o = p * dim;
            if (from[p] >= to[p]) {
                Arrays.fill(out, o, o + dim, 0f);
                Arrays.fill(argmax, o, o + dim, -1);
                continue;
            }
            System.arraycopy(h, from[p] * dim, out, o, dim);
            Arrays.fill(argmax, o, o + dim, from[p]);
            for (int r = from[p] + 1; r < to[p]; r++) {
                int src = r * dim;
                for (int d = 0; d < dim; d++) {
                    if (h[src + d] > out[o + d]) {
                        out[o + d] = h[src + d];
                        argmax[o + d] = r;
                    }
                }
            }
        }
    }

    /** {@code dh[argmax] += dOut} for every pooled value of the last forward (empty patches pass nothing back). */
    public void backward(float[] dOut, float[] dh) {
        for (int i = 0; i < patches * dim; i++) {
            int r = argmax[i];
            if (r >= 0) dh[r * dim + i % dim] += dOut[i];
        }
    }
}

package dev.patchwork.train;

import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.tensor.VectorOps;

/** Global gradient-norm clipping ({@code torch.nn.utils.clip_grad_norm_}): scale by {@code max/(‖g‖+1e-6)} when above. */
public final class GradientClipping {
    private GradientClipping() {}

    /** L2 norm of the whole buffer (fixed-order parallel reduction, so it is deterministic). */
    public static double norm(ParameterBuffer g) {
        return Math.sqrt(VectorOps.sumOfSquares(g.segment(), 0, g.floats()));
    }

    /** Clips in place; returns the norm before clipping. {@code maxNorm <= 0} disables clipping. */
    public static double clip(ParameterBuffer g, double maxNorm) {
        double norm = norm(g);
        if (maxNorm > 0 && norm > maxNorm) VectorOps.scale(g.segment(), 0, g.floats(), (float) (maxNorm / (norm + 1e-6)));
        return norm;
    }
}

package dev.patchwork.train;

import dev.patchwork.tensor.Parallel;
import dev.patchwork.tensor.ParameterBuffer;

import static dev.patchwork.tensor.ParameterBuffer.F32;

/** Global gradient-norm clipping ({@code torch.nn.utils.clip_grad_norm_}): scale by {@code max/(‖g‖+1e-6)} when above. */
public final class GradientClipping {
    private GradientClipping() {}

    /** L2 norm of the whole buffer, summed in double per thread chunk and reduced in chunk order (deterministic). */
    public static double norm(ParameterBuffer g) {
        int chunks = Parallel.threads();
        double[] partial = new double[chunks];
        long n = g.floats();
        // chunk over 1024-float blocks so the partition does not depend on n overflowing int
        int blocks = Math.toIntExact((n + 1023) / 1024);
        Parallel.forChunks(blocks, chunks, (c, s, e) -> {
            double acc = 0;
            long from = s * 1024L, to = Math.min(n, e * 1024L);
            for (long i = from; i < to; i++) {
                double x = g.segment().getAtIndex(F32, i);
                acc += x * x;
            }
            partial[c] = acc;
        });
        double total = 0;
        for (double p : partial) total += p;
        return Math.sqrt(total);
    }

    /** Clips in place; returns the norm before clipping. {@code maxNorm <= 0} disables clipping. */
    public static double clip(ParameterBuffer g, double maxNorm) {
        double norm = norm(g);
        if (maxNorm > 0 && norm > maxNorm) {
            float scale = (float) (maxNorm / (norm + 1e-6));
            long n = g.floats();
            int blocks = Math.toIntExact((n + 1023) / 1024);
            Parallel.forRange(blocks, (s, e) -> {
                for (long i = s * 1024L, to = Math.min(n, e * 1024L); i < to; i++)
                    g.segment().setAtIndex(F32, i, g.segment().getAtIndex(F32, i) * scale);
            });
        }
        return norm;
    }
}

package dev.patchwork.layers;

import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.tensor.ParameterLayout;

import java.util.Random;

/** Parameter initialisation as the reference does it: truncated normals and ones (spec §7). */
public final class Init {
    private Init() {}

    /**
     * Fills {@code v} with samples of N(0, std²) conditioned to lie in [a, b] (torch {@code trunc_normal_}), drawn by
     * rejection in row-major order from {@code rng}, so a seed gives the same model on every machine.
     */
    public static void truncNormal(ParameterBuffer p, ParameterLayout.View v, Random rng, double std, double a, double b) {
        if (!(std > 0)) throw new IllegalArgumentException("std must be > 0 for " + v.name());
        for (long i = 0; i < v.size(); i++) {
            double x;
            do {
                x = rng.nextGaussian() * std;
            } while (x < a || x > b);
            p.set(v, i, (float) x);
        }
    }

    /** Truncated normal at ±3σ. */
    public static void truncNormal(ParameterBuffer p, ParameterLayout.View v, Random rng, double std) {
        truncNormal(p, v, rng, std, -3 * std, 3 * std);
    }

    /**
     * The reference's {@code init_std_factor}: what divides the output projections' σ (wo, w2) of layer {@code index}
     * of {@code layers} (width {@code dim}): √(2·(index+1)) for current_depth, √(2·(layers+1)) for global_depth,
     * dim/4096 for dim_ratio, 1 for disabled.
     */
    public static double depthFactor(String initStdFactor, int index, int layers, int dim) {
        return switch (initStdFactor) {
            case "current_depth" -> Math.sqrt(2.0 * (index + 1));
            case "global_depth" -> Math.sqrt(2.0 * (layers + 1));
            case "dim_ratio" -> dim / 4096.0;
            case "disabled" -> 1.0;
            default -> throw new IllegalArgumentException("unknown init_std_factor '" + initStdFactor + "'");
        };
    }

    public static void ones(ParameterBuffer p, ParameterLayout.View v) {
        for (long i = 0; i < v.size(); i++) p.set(v, i, 1f);
    }
}

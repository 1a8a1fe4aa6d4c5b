package dev.patchwork.generate;

import java.util.SplittableRandom;

/** Picks the next id from logits with {@link SamplingOptions}; owns its random generator and scratch buffers. */
public final class Sampler {
    private final SamplingOptions options;
    private final SplittableRandom random;
    private double[] probs = new double[0];
    private Integer[] order = new Integer[0];

    public Sampler(SamplingOptions options) {
        this.options = options;
        this.random = new SplittableRandom(options.seed());
    }

    /** Index of the largest logit (the first one on ties, like torch.argmax). */
    public static int argmax(float[] logits, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) if (logits[i] > logits[best]) best = i;
        return best;
    }

    public int sample(float[] logits, int n) {
        if (options.isGreedy()) return argmax(logits, n);
        if (probs.length < n) {
            probs = new double[n];
            order = new Integer[n];
        }
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) max = Math.max(max, logits[i] / options.temperature());
        double sum = 0;
        for (int i = 0; i < n; i++) {
            probs[i] = Math.exp(logits[i] / options.temperature() - max);
            sum += probs[i];
            order[i] = i;
        }
        for (int i = 0; i < n; i++) probs[i] /= sum;
        final double[] p = probs;
        java.util.Arrays.sort(order, 0, n, (a, b) -> Double.compare(p[b], p[a]) != 0 ? Double.compare(p[b], p[a]) : Integer.compare(a, b));
        int keep = options.topK() > 0 ? Math.min(options.topK(), n) : n;
        if (options.topP() < 1) {
            double cum = 0;
            for (int i = 0; i < keep; i++) {
                cum += p[order[i]];
                if (cum >= options.topP()) {
                    keep = i + 1;
                    break;
                }
            }
        }
        double mass = 0;
        for (int i = 0; i < keep; i++) mass += p[order[i]];
        double u = random.nextDouble() * mass;
        for (int i = 0; i < keep; i++) {
            u -= p[order[i]];
            if (u <= 0) return order[i];
        }
        return order[keep - 1];
    }
}

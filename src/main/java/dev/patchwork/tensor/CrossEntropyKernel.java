package dev.patchwork.tensor;

/**
 * Cross-entropy of rows of logits against target ids, in nats, fused with its gradient.
 * A negative target (PAD = −1) contributes no loss and no gradient.
 */
public final class CrossEntropyKernel {
    private CrossEntropyKernel() {}

    /**
     * For each row r: {@code losses[r] = logsumexp(logits[r]) − logits[r][targets[r]]}. When {@code dlogits} is not
     * null it receives {@code (softmax(logits[r]) − onehot(targets[r]))·scale} (overwriting).
     *
     * @return the sum of the row losses (double, to keep long sums exact enough for bits per byte)
     */
    public static double forwardBackward(float[] logits, int rows, int vocab, int[] targets, int targetsOff,
                                         float[] losses, float[] dlogits, float scale) {
        return forwardBackwardScalar(logits, rows, vocab, targets, targetsOff, losses, dlogits, scale);
    }

    public static double forwardBackwardScalar(float[] logits, int rows, int vocab, int[] targets, int targetsOff,
                                               float[] losses, float[] dlogits, float scale) {
        double total = 0;
        for (int r = 0; r < rows; r++) {
            int b = r * vocab;
            int t = targets[targetsOff + r];
            if (t >= vocab) throw new IllegalArgumentException("target id " + t + " is outside the vocabulary [0," + vocab + ")");
            float max = Float.NEGATIVE_INFINITY;
            for (int i = 0; i < vocab; i++) max = Math.max(max, logits[b + i]);
            float sum = 0f;
            for (int i = 0; i < vocab; i++) sum += (float) Math.exp(logits[b + i] - max);
            float lse = max + (float) Math.log(sum);
            float loss = t < 0 ? 0f : lse - logits[b + t];
            if (losses != null) losses[r] = loss;
            total += loss;
            if (dlogits != null) {
                for (int i = 0; i < vocab; i++) {
                    dlogits[b + i] = t < 0 ? 0f : (float) Math.exp(logits[b + i] - lse) * scale;
                }
                if (t >= 0) dlogits[b + t] -= scale;
            }
        }
        return total;
    }
}

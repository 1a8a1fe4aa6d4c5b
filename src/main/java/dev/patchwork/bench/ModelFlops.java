package dev.patchwork.bench;

import dev.patchwork.model.ByteLmConfig;

/**
 * FLOPs of a byte LM, counted from its matrix multiplies (2 FLOPs per multiply-add) and attention scores/values; the
 * backward pass costs twice the forward (the usual 6·N rule when attention is small). Embedding lookups are free.
 */
public final class ModelFlops {
    private ModelFlops() {}

    /** Forward FLOPs per token at sequence length {@code seqLen} (average visible keys under the causal window). */
    public static double forwardPerToken(ByteLmConfig c, int seqLen) {
        int d = c.dim(), hd = c.headDimension(), h = c.heads(), kv = c.kvHeads(), f = c.ffnHidden();
        double perLayerMatmul = (double) d * (h + 2 * kv) * hd + (double) h * hd * d + 3.0 * d * f;
        double visible = averageVisibleKeys(seqLen, c.slidingWindow() == null ? 0 : c.slidingWindow());
        double perLayerAttention = 2.0 * 2.0 * h * hd * visible; // q·k and p·v
        return c.nLayers() * (2 * perLayerMatmul + perLayerAttention) + 2.0 * d * c.vocabSize();
    }

    /** Training FLOPs per token: forward + backward (2× forward). */
    public static double trainPerToken(ByteLmConfig c, int seqLen) {
        return 3 * forwardPerToken(c, seqLen);
    }

    static double averageVisibleKeys(int T, int window) {
        double sum = 0;
        for (int t = 0; t < T; t++) sum += window > 0 ? Math.min(t + 1, window) : t + 1;
        return sum / T;
    }
}

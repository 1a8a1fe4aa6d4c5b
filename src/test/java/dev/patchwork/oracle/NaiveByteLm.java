package dev.patchwork.oracle;

import dev.patchwork.model.ByteLmConfig;

/**
 * Double-precision forward pass of the byte-level LM: embedding → pre-norm blocks → RMSNorm → output logits, and the
 * mean cross-entropy over the targets that are not PAD (negative).
 */
public final class NaiveByteLm {
    private NaiveByteLm() {}

    /** Logits {@code [B·T, vocab]} of {@code ids[B·T]}, with the mask of the config (window, EOS segments). */
    public static double[] logits(ByteLmConfig c, OracleParams p, int[] ids, int B, int T) {
        int window = c.slidingWindow() == null ? 0 : c.slidingWindow();
        boolean[][] mask = OracleMask.causal(ids, B, T, window, c.eosSegments() ? c.eosId() : -1);
        var shape = new NaiveLayers.AttentionShape(c.dim(), c.heads(), c.kvHeads(), c.headDimension(), c.ropeTheta());
        double[] x = NaiveLayers.embedding(p.get("tok_embeddings.weight"), c.dim(), ids);
        for (int l = 0; l < c.nLayers(); l++)
            x = NaiveLayers.block(x, B, T, shape, c.ffnHidden(), c.normEps(), p, "layers." + l + ".", mask);
        double[] n = NaiveLayers.rmsNorm(x, B * T, c.dim(), p.get("norm.weight"), c.normEps());
        return NaiveLayers.linear(n, B * T, c.dim(), p.get("output.weight"), c.vocabSize());
    }

    /** Mean over positions with {@code targets[i] ≥ 0} of {@code logsumexp(logits[i]) − logits[i][targets[i]]}. */
    public static double meanCrossEntropy(double[] logits, int vocab, int[] targets) {
        double total = 0;
        int counted = 0;
        for (int i = 0; i < targets.length; i++) {
            if (targets[i] < 0) continue;
            double max = Double.NEGATIVE_INFINITY;
            for (int v = 0; v < vocab; v++) max = Math.max(max, logits[i * vocab + v]);
            double sum = 0;
            for (int v = 0; v < vocab; v++) sum += Math.exp(logits[i * vocab + v] - max);
            total += max + Math.log(sum) - logits[i * vocab + targets[i]];
            counted++;
        }
        return total / counted;
    }
}

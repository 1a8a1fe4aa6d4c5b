package dev.patchwork.layers;

import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.tensor.ParameterLayout;
import dev.patchwork.tensor.RopeTable;

/**
 * The pre-norm block of the reference: {@code h = x + Attn(RMSNorm(x)); out = h + FFN(RMSNorm(h))}.
 * Checkpoint names under {@code prefix}: {@code attention.{wq,wk,wv,wo}.weight}, {@code feed_forward.{w1,w2,w3}.weight},
 * {@code attention_norm.weight}, {@code ffn_norm.weight}.
 */
public final class TransformerBlock {
    private final RmsNorm attentionNorm;
    private final SelfAttention attention;
    private final RmsNorm ffnNorm;
    private final FeedForward feedForward;
    private final int dim;

    // activations of the last forward; `out` is also the next block's input
    private float[] input;
    private float[] n1 = new float[0], h = new float[0], n2 = new float[0], out = new float[0];
    private float[] dn = new float[0], dh = new float[0], dx = new float[0];
    private int rows;

    public TransformerBlock(ParameterLayout.Builder layout, String prefix, int dim, int heads, int kvHeads, int headDim,
                            int ffnHidden, double normEps, RopeTable rope) {
        this.dim = dim;
        attentionNorm = new RmsNorm(layout, prefix + "attention_norm.weight", dim, normEps);
        attention = new SelfAttention(layout, prefix + "attention.", dim, heads, kvHeads, headDim, rope);
        ffnNorm = new RmsNorm(layout, prefix + "ffn_norm.weight", dim, normEps);
        feedForward = new FeedForward(layout, prefix + "feed_forward.", dim, ffnHidden);
    }

    private void ensure(int rows) {
        if (out.length < rows * dim) {
            int n = rows * dim;
            n1 = new float[n];
            h = new float[n];
            n2 = new float[n];
            out = new float[n];
        }
    }

    /** Gradient buffers exist only once a backward pass runs, so inference needs half the memory. */
    private void ensureGradients(int rows) {
        if (dx.length < rows * dim) {
            int n = rows * dim;
            dn = new float[n];
            dh = new float[n];
            dx = new float[n];
        }
    }

    /** Runs the block on {@code x[B·T, dim]}; returns its own output buffer (valid until the next forward). */
    public float[] forward(ParameterBuffer p, float[] x, int B, int T, AttentionMask mask) {
        rows = B * T;
        ensure(rows);
        input = x;
        int n = rows * dim;
        long t = LayerProfile.start();
        attentionNorm.forward(p, x, n1, rows);
        LayerProfile.stop(LayerProfile.Kind.NORM, false, t);
        System.arraycopy(x, 0, h, 0, n);
        t = LayerProfile.start();
        attention.forward(p, n1, h, B, T, mask, true);  // h = x + attn(norm(x))
        LayerProfile.stop(LayerProfile.Kind.ATTENTION, false, t);
        t = LayerProfile.start();
        ffnNorm.forward(p, h, n2, rows);
        LayerProfile.stop(LayerProfile.Kind.NORM, false, t);
        System.arraycopy(h, 0, out, 0, n);
        t = LayerProfile.start();
        feedForward.forward(p, n2, out, rows, true);    // out = h + ffn(norm(h))
        LayerProfile.stop(LayerProfile.Kind.FEED_FORWARD, false, t);
        return out;
    }

    /**
     * Backward for the last forward: adds parameter gradients into {@code g}; returns {@code ∂L/∂x} in the block's own
     * buffer (valid until the next backward).
     */
    public float[] backward(ParameterBuffer p, ParameterBuffer g, float[] dOut) {
        ensureGradients(rows);
        int n = rows * dim;
        // out = h + ffn(n2): dh = dOut + norm-backward(ffn-backward(dOut))
        long t = LayerProfile.start();
        feedForward.backward(p, g, n2, dOut, dn);
        LayerProfile.stop(LayerProfile.Kind.FEED_FORWARD, true, t);
        System.arraycopy(dOut, 0, dh, 0, n);
        t = LayerProfile.start();
        ffnNorm.backward(p, g, h, dn, dh, rows);
        LayerProfile.stop(LayerProfile.Kind.NORM, true, t);
        // h = x + attn(n1): dx = dh + norm-backward(attn-backward(dh))
        java.util.Arrays.fill(dn, 0, n, 0f);
        t = LayerProfile.start();
        attention.backward(p, g, n1, dh, dn);
        LayerProfile.stop(LayerProfile.Kind.ATTENTION, true, t);
        System.arraycopy(dh, 0, dx, 0, n);
        t = LayerProfile.start();
        attentionNorm.backward(p, g, input, dn, dx, rows);
        LayerProfile.stop(LayerProfile.Kind.NORM, true, t);
        return dx;
    }

    /** One decoding step for the token at {@code pos}: {@code x[dim]} in, the block output written to {@code y[dim]}. */
    public void step(ParameterBuffer p, float[] x, float[] y, int pos, int keyFrom, KvCache cache) {
        ensure(1);
        attentionNorm.forward(p, x, n1, 1);
        System.arraycopy(x, 0, h, 0, dim);
        attention.step(p, n1, h, pos, keyFrom, cache, true);
        ffnNorm.forward(p, h, n2, 1);
        System.arraycopy(h, 0, y, 0, dim);
        feedForward.forward(p, n2, y, 1, true);
    }

    /** Reference initialisation ({@code TransformerBlock.init_weights(init_std, factor)}). */
    public void init(ParameterBuffer p, java.util.Random rng, Double baseStd, double factor) {
        attentionNorm.init(p);
        ffnNorm.init(p);
        double attnStd = baseStd != null ? baseStd : Math.pow(dim, -0.5);
        attention.init(p, rng, attnStd, factor);
        double outStd = baseStd != null ? baseStd : Math.pow(feedForward.hidden(), -0.5);
        feedForward.init(p, rng, attnStd, outStd, factor);
    }
}

package dev.patchwork.layers;

import dev.patchwork.tensor.AttentionKernel;
import dev.patchwork.tensor.Matmul;
import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.tensor.ParameterLayout;
import dev.patchwork.tensor.WeightOps;
import dev.patchwork.tensor.RopeKernel;
import dev.patchwork.tensor.RopeTable;

import java.util.Arrays;

/**
 * Multi-head (optionally grouped-query) self-attention with RoPE and no biases, as the reference's {@code Attention}:
 * {@code q,k,v = x·Wqᵀ, x·Wkᵀ, x·Wvᵀ}, RoPE on q and k, softmax(q·kᵀ/√hd) over the visible keys, output {@code ·Woᵀ}.
 *
 * <p>wq, wk and wv are stored adjacently so the three projections are one matrix multiply into a fused row
 * {@code [q | k | v]}; the attention kernel reads q, k and v from that row by offset. Forward keeps the fused
 * projections, the attention output and its log-sum-exp for backward.
 */
public final class SelfAttention {
    private final ParameterLayout.View wq, wk, wv, wo;
    private final ParameterLayout.View[] qkvParts;
    private final int dim, heads, kvHeads, hd, qkvWidth;
    private final float scale;
    private final RopeTable rope;

    // activations of the last forward (capacity grows on demand)
    private float[] qkv = new float[0], att = new float[0], lse = new float[0];
    private float[] dqkv = new float[0], datt = new float[0];
    private int B, T;
    private AttentionMask mask;

    public SelfAttention(ParameterLayout.Builder layout, String prefix, int dim, int heads, int kvHeads, int headDim,
                         RopeTable rope) {
        this.dim = dim;
        this.heads = heads;
        this.kvHeads = kvHeads;
        this.hd = headDim;
        this.rope = rope;
        this.qkvWidth = (heads + 2 * kvHeads) * headDim;
        this.scale = (float) (1.0 / Math.sqrt(headDim));
        wq = layout.add(prefix + "wq.weight", heads * headDim, dim);
        wk = layout.addAdjacent(prefix + "wk.weight", kvHeads * headDim, dim);
        wv = layout.addAdjacent(prefix + "wv.weight", kvHeads * headDim, dim);
        wo = layout.add(prefix + "wo.weight", dim, heads * headDim);
        qkvParts = new ParameterLayout.View[]{wq, wk, wv};
    }

    private AttentionKernel.Shape shape(int queries) {
        return new AttentionKernel.Shape(queries, heads, kvHeads, hd,
                0, qkvWidth, heads * hd, qkvWidth, (heads + kvHeads) * hd, qkvWidth, 0, heads * hd);
    }

    private void ensure(int rows) {
        if (qkv.length < rows * qkvWidth) {
            qkv = new float[rows * qkvWidth];
            att = new float[rows * heads * hd];
            lse = new float[rows * heads];
        }
    }

    /** Gradient buffers are allocated by the first backward pass only (inference never needs them). */
    private void ensureGradients(int rows) {
        if (dqkv.length < rows * qkvWidth) {
            dqkv = new float[rows * qkvWidth];
            datt = new float[rows * heads * hd];
        }
    }

    /**
     * {@code out[B·T, dim] (+)= attention(x)}; positions restart at 0 in every batch row. With {@code accumulate}
     * the output is added to {@code out} (the residual connection without a copy).
     */
    public void forward(ParameterBuffer p, float[] x, float[] out, int B, int T, AttentionMask mask, boolean accumulate) {
        int rows = B * T;
        ensure(rows);
        this.B = B;
        this.T = T;
        this.mask = mask;
        WeightOps.xwTFused(qkv, 0, x, 0, p, qkvParts, rows, dim, false);
        // q and k heads are adjacent in each fused row, so one call rotates both
        RopeKernel.applyPerSequence(qkv, qkvWidth, B, T, heads + kvHeads, rope, false);
        AttentionKernel.forward(shape(rows), qkv, qkv, qkv, mask.from, mask.to, scale, att, lse);
        WeightOps.xwT(out, 0, att, 0, p, wo, rows, dim, heads * hd, accumulate);
    }

    /** Adds parameter gradients into {@code g} and {@code ∂L/∂x} into {@code dx}, for the last forward's input {@code x}. */
    public void backward(ParameterBuffer p, ParameterBuffer g, float[] x, float[] dOut, float[] dx) {
        int rows = B * T;
        ensureGradients(rows);
        Matmul.dyTx(g.segment(), wo.offset(), dOut, 0, att, 0, rows, dim, heads * hd);
        Matmul.dyW(datt, 0, dOut, 0, p.segment(), p.offset(wo), rows, dim, heads * hd, false);
        Arrays.fill(dqkv, 0, rows * qkvWidth, 0f);
        AttentionKernel.backward(shape(rows), qkv, qkv, qkv, mask.from, mask.to, scale, att, lse, datt, dqkv, dqkv, dqkv);
        RopeKernel.applyPerSequence(dqkv, qkvWidth, B, T, heads + kvHeads, rope, true);
        // the forward's q and k were rotated in place; dW needs only x, which the caller kept
        Matmul.dyTx(g.segment(), wq.offset(), dqkv, 0, x, 0, rows, qkvWidth, dim);
        Matmul.dyW(dx, 0, dqkv, 0, p.segment(), p.offset(wq), rows, qkvWidth, dim, true);
    }

    /**
     * One decoding step: the token at position {@code pos} (input row {@code x[dim]}) attends the cached positions
     * {@code [keyFrom, pos]}; its key and value are stored in the cache. Writes {@code out[dim] (+)= attention}.
     * {@code keyFrom} must never decrease from one step to the next (a window and EOS segments only move it forward).
     */
    public void step(ParameterBuffer p, float[] x, float[] out, int pos, int keyFrom, KvCache cache, boolean accumulate) {
        int row = cache.rowFor(pos, keyFrom);
        ensure(1);
        WeightOps.xwTFused(qkv, 0, x, 0, p, qkvParts, 1, dim, false);
        RopeKernel.apply(qkv, 0, qkvWidth, 1, heads + kvHeads, pos, rope, false); // q and k are adjacent heads
        int w = cache.width;
        System.arraycopy(qkv, heads * hd, cache.keys, row * w, w);
        System.arraycopy(qkv, (heads + kvHeads) * hd, cache.values, row * w, w);
        var s = new AttentionKernel.Shape(1, heads, kvHeads, hd, 0, qkvWidth, 0, w, 0, w, 0, heads * hd);
        int[] from = {keyFrom - cache.base()}, to = {row + 1};
        AttentionKernel.decode(s, qkv, cache.keys, cache.values, from, to, scale, att, null);
        WeightOps.xwT(out, 0, att, 0, p, wo, 1, dim, heads * hd, accumulate);
    }

    /** Reference initialisation: wq/wk/wv σ = std, wo σ = std/factor, all truncated at ±3·std (the reference's bound). */
    public void init(ParameterBuffer p, java.util.Random rng, double std, double factor) {
        Init.truncNormal(p, wq, rng, std);
        Init.truncNormal(p, wk, rng, std);
        Init.truncNormal(p, wv, rng, std);
        Init.truncNormal(p, wo, rng, std / factor, -3 * std, 3 * std);
    }
}

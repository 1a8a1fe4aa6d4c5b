package dev.patchwork.layers;

import dev.patchwork.tensor.AttentionKernel;
import dev.patchwork.tensor.Matmul;
import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.tensor.ParameterLayout;
import dev.patchwork.tensor.WeightOps;

import java.util.Arrays;
import java.util.Random;

/**
 * The BLT's cross-attention (the reference's {@code CrossAttention}, spec §3): queries from {@code x}, keys and values
 * from another sequence {@code kv}, each through its own RMSNorm:
 * {@code q = Wq·RMSNorm_q(x)}, {@code k, v = Wk, Wv·RMSNorm_kv(kv)}, {@code heads} heads of {@code dim/heads}, no RoPE,
 * softmax scale {@code 1/√hd}, no biases. Which keys a query sees is one interval per query (a patch sees its own
 * bytes; a byte sees the k vectors of its patch); an empty interval gives 0.
 *
 * <p><b>The residual is inside:</b> {@link #forward} returns {@code x + Wo·attention}, exactly the reference's return
 * value, and both reference callers add {@code x} once more ({@code patch + CA(patch, h)} in the encoder,
 * {@code h + CA(h, patches)} in the decoder), so the update they apply is {@code 2x + Wo·attention}. The released
 * weights were trained that way; callers must keep the second addition.
 *
 * <p>Names under {@code prefix}: {@code cross_attn_norm_q.weight}, {@code cross_attn_norm_kv.weight},
 * {@code wq.weight}, {@code wk.weight}, {@code wv.weight}, {@code wo.weight}. wk and wv are adjacent and applied as one
 * matrix multiply into rows {@code [k | v]}.
 */
public final class CrossAttention {
    private final RmsNorm normQ, normKv;
    private final ParameterLayout.View wq, wk, wv, wo;
    private final ParameterLayout.View[] kvParts;
    private final int dim, heads, hd, width;
    private final float scale;

    // the last forward's inputs (kept by the caller) and activations
    private float[] x, kv;
    private AttentionMask mask;
    private int queries, keys;
    private float[] xn = new float[0], q = new float[0], att = new float[0], lse = new float[0];
    private float[] kvn = new float[0], kvp = new float[0];
    private float[] dq = new float[0], datt = new float[0], dxn = new float[0], dkvp = new float[0], dkvn = new float[0];
    // decoding steps (separate from the forward's activations)
    private int[] stepFrom = new int[0], stepTo = new int[0];
    private float[] stepXn = new float[0], stepQ = new float[0], stepAtt = new float[0], stepKvn = new float[0];

    public CrossAttention(ParameterLayout.Builder layout, String prefix, int dim, int heads, double normEps) {
        if (dim % heads != 0) throw new IllegalArgumentException("cross-attention heads " + heads + " must divide its width " + dim);
        this.dim = dim;
        this.heads = heads;
        this.hd = dim / heads;
        this.width = heads * hd;
        this.scale = (float) (1.0 / Math.sqrt(hd));
        normQ = new RmsNorm(layout, prefix + "cross_attn_norm_q.weight", dim, normEps);
        normKv = new RmsNorm(layout, prefix + "cross_attn_norm_kv.weight", dim, normEps);
        wq = layout.add(prefix + "wq.weight", width, dim);
        wk = layout.add(prefix + "wk.weight", width, dim);
        wv = layout.addAdjacent(prefix + "wv.weight", width, dim);
        wo = layout.add(prefix + "wo.weight", dim, width);
        kvParts = new ParameterLayout.View[]{wk, wv};
    }

    private AttentionKernel.Shape shape() {
        return new AttentionKernel.Shape(queries, heads, heads, hd, 0, width, 0, 2 * width, width, 2 * width, 0, width);
    }

    private void ensure(int queries, int keys) {
        if (q.length < queries * width) {
            xn = new float[queries * dim];
            dxn = new float[queries * dim];
            q = new float[queries * width];
            dq = new float[queries * width];
            att = new float[queries * width];
            datt = new float[queries * width];
            lse = new float[queries * heads];
        }
        if (kvp.length < keys * 2 * width) {
            kvn = new float[keys * dim];
            dkvn = new float[keys * dim];
            kvp = new float[keys * 2 * width];
            dkvp = new float[keys * 2 * width];
        }
    }

    /**
     * {@code out[queries, dim] = x + Wo·attention(x, kv)}; query {@code i} attends the rows
     * {@code [mask.from[i], mask.to[i])} of {@code kv[keys, dim]}. The caller keeps {@code x}, {@code kv} and the mask
     * unchanged until {@link #backward}.
     */
    public void forward(ParameterBuffer p, float[] x, int queries, float[] kv, int keys, AttentionMask mask, float[] out) {
        ensure(queries, keys);
        this.x = x;
        this.kv = kv;
        this.mask = mask;
        this.queries = queries;
        this.keys = keys;
        normQ.forward(p, x, xn, queries);
        WeightOps.xwT(q, 0, xn, 0, p, wq, queries, width, dim, false);
        normKv.forward(p, kv, kvn, keys);
        WeightOps.xwTFused(kvp, 0, kvn, 0, p, kvParts, keys, dim, false);
        AttentionKernel.forward(shape(), q, kvp, kvp, mask.from, mask.to, scale, att, lse);
        System.arraycopy(x, 0, out, 0, queries * dim);
        WeightOps.xwT(out, 0, att, 0, p, wo, queries, dim, width, true);
    }

    /**
     * Backward for the last forward, given {@code dOut = ∂L/∂out}: adds parameter gradients into {@code g}, writes
     * {@code ∂L/∂x} of this layer's output (the residual's {@code dOut} included) into {@code dx} (overwriting) and
     * adds {@code ∂L/∂kv} into {@code dkv}.
     */
    public void backward(ParameterBuffer p, ParameterBuffer g, float[] dOut, float[] dx, float[] dkv) {
        Matmul.dyTx(g.segment(), wo.offset(), dOut, 0, att, 0, queries, dim, width);
        Matmul.dyW(datt, 0, dOut, 0, p.segment(), p.offset(wo), queries, dim, width, false);
        Arrays.fill(dq, 0, queries * width, 0f);
        Arrays.fill(dkvp, 0, keys * 2 * width, 0f);
        AttentionKernel.backward(shape(), q, kvp, kvp, mask.from, mask.to, scale, att, lse, datt, dq, dkvp, dkvp);
        // query side: x → RMSNorm_q → Wq
        Matmul.dyTx(g.segment(), wq.offset(), dq, 0, xn, 0, queries, width, dim);
        Matmul.dyW(dxn, 0, dq, 0, p.segment(), p.offset(wq), queries, width, dim, false);
        System.arraycopy(dOut, 0, dx, 0, queries * dim);
        normQ.backward(p, g, x, dxn, dx, queries);
        // key/value side: kv → RMSNorm_kv → [Wk | Wv]
        Matmul.dyTx(g.segment(), wk.offset(), dkvp, 0, kvn, 0, keys, 2 * width, dim);
        Matmul.dyW(dkvn, 0, dkvp, 0, p.segment(), p.offset(wk), keys, 2 * width, dim, false);
        normKv.backward(p, g, kv, dkvn, dkv, keys);
    }

    /** Floats per key row of {@link #projectKeysValues}: the key and the value side by side. */
    public int projectedWidth() {
        return 2 * width;
    }

    /**
     * The keys and values of {@code kv[keys, dim]} for {@link #step}: {@code out[keys, 2·width]} rows
     * {@code [Wk | Wv]·RMSNorm_kv(kv)}. Decoding projects a patch's k vectors once and lets all its bytes attend them.
     */
    public void projectKeysValues(ParameterBuffer p, float[] kv, int keys, float[] out) {
        if (stepKvn.length < keys * dim) stepKvn = new float[keys * dim];
        normKv.forward(p, kv, stepKvn, keys);
        WeightOps.xwTFused(out, 0, stepKvn, 0, p, kvParts, keys, dim, false);
    }

    /**
     * A few queries that each see every key (a decoding step: a byte against its patch's k vectors, or a closed
     * patch's k queries against its bytes): {@code out[queries, dim] = x + Wo·attention(x, keys)} over all
     * {@code keys} rows of {@code projected} (from {@link #projectKeysValues}); the value {@link #forward} gives for
     * those queries. Keeps nothing for a backward pass and leaves the last forward's activations alone. With no keys
     * (an empty patch) the attention is 0 and {@code out = x}.
     */
    public void step(ParameterBuffer p, float[] x, int queries, float[] projected, int keys, float[] out) {
        if (stepQ.length < queries * width) {
            stepXn = new float[queries * dim];
            stepQ = new float[queries * width];
            stepAtt = new float[queries * width];
            stepFrom = new int[queries];
            stepTo = new int[queries];
        }
        Arrays.fill(stepTo, 0, queries, keys); // stepFrom stays 0
        normQ.forward(p, x, stepXn, queries);
        WeightOps.xwT(stepQ, 0, stepXn, 0, p, wq, queries, width, dim, false);
        var s = new AttentionKernel.Shape(queries, heads, heads, hd, 0, width, 0, 2 * width, width, 2 * width, 0, width);
        AttentionKernel.decode(s, stepQ, projected, projected, stepFrom, stepTo, scale, stepAtt, null);
        System.arraycopy(x, 0, out, 0, queries * dim);
        WeightOps.xwT(out, 0, stepAtt, 0, p, wo, queries, dim, width, true);
    }

    /**
     * Reference initialisation ({@code CrossAttention.init_weights(None, factor)}): all four matrices truncated normal
     * with σ = dim^-½ / factor at ±3σ; norm weights 1.
     */
    public void init(ParameterBuffer p, Random rng, double factor) {
        double std = Math.pow(dim, -0.5) / factor;
        Init.truncNormal(p, wq, rng, std);
        Init.truncNormal(p, wk, rng, std);
        Init.truncNormal(p, wv, rng, std);
        Init.truncNormal(p, wo, rng, std);
        normQ.init(p);
        normKv.init(p);
    }
}

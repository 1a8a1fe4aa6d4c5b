package dev.patchwork.model;

import dev.patchwork.layers.AttentionMask;
import dev.patchwork.layers.KvCache;
import dev.patchwork.layers.Linear;
import dev.patchwork.layers.TransformerBlock;
import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.tensor.ParameterLayout;
import dev.patchwork.tensor.RopeTable;

import java.util.Random;

/**
 * The BLT's latent transformer over patches (spec §5.5, the reference's {@code GlobalTransformer}): an optional
 * {@code token_embedding_projection} (k·dim_local → dim_global, when the widths differ; no norm), then pre-norm blocks
 * with RoPE over patch positions, block-causal at patches holding an EOS. <b>No final norm</b>: the decoder reads the
 * last block's raw output.
 */
public final class GlobalTransformer {
    private final BltConfig config;
    private final int inDim, dim;
    private final Linear projection;
    private final TransformerBlock[] layers;

    private float[] input, projected = new float[0], dInput = new float[0];
    private int rows;

    GlobalTransformer(ParameterLayout.Builder b, BltConfig c) {
        this.config = c;
        this.inDim = c.globalInputDim();
        this.dim = c.dimGlobal();
        projection = c.hasGlobalProjection()
                ? new Linear(b, "global_transformer.token_embedding_projection.weight", inDim, dim) : null;
        RopeTable rope = new RopeTable(c.globalHeadDim(), c.maxSeqlen(), c.ropeTheta());
        layers = new TransformerBlock[c.nLayersGlobal()];
        int heads = c.nHeadsGlobal();
        for (int i = 0; i < layers.length; i++)
            layers[i] = new TransformerBlock(b, "global_transformer.layers." + i + ".", dim, heads, c.globalKvHeads(),
                    c.globalHeadDim(), c.ffnHidden(dim), c.normEps(), rope);
    }

    /** Runs over {@code x[B·P, k·dim_local]}; returns {@code [B·P, dim_global]} (valid until the next forward). */
    float[] forward(ParameterBuffer p, float[] x, int B, int P, AttentionMask mask) {
        if (P > config.maxSeqlen())
            throw new IllegalArgumentException(P + " patches exceed max_seqlen " + config.maxSeqlen() + " of the global model");
        rows = B * P;
        input = x;
        float[] h = x;
        if (projection != null) {
            if (projected.length < rows * dim) projected = new float[rows * dim];
            projection.forward(p, x, projected, rows);
            h = projected;
        }
        for (TransformerBlock layer : layers) h = layer.forward(p, h, B, P, mask);
        return h;
    }

    /** The input to the first block of the last forward (after the projection, if any). */
    float[] blockInput() {
        return projection != null ? projected : input;
    }

    /** Adds parameter gradients into {@code g}; returns ∂L/∂x (an internal buffer, valid until the next backward). */
    float[] backward(ParameterBuffer p, ParameterBuffer g, float[] dOut) {
        float[] d = dOut;
        for (int i = layers.length - 1; i >= 0; i--) d = layers[i].backward(p, g, d);
        if (projection == null) return d;
        if (dInput.length < rows * inDim) dInput = new float[rows * inDim];
        projection.backward(p, g, input, d, dInput, rows, false);
        return dInput;
    }

    // ---- incremental decoding -------------------------------------------------------------------------------------

    /** The global model's decoding state for one sequence: KV caches over patches and where the current block starts. */
    final class Cache {
        private final KvCache[] kv = new KvCache[layers.length];
        private final float[] projected = new float[dim];
        private final float[][] rows = new float[2][dim];
        private int pos, segmentStart;

        Cache(int capacity) {
            for (int i = 0; i < layers.length; i++) kv[i] = new KvCache(capacity, config.globalKvHeads(), config.globalHeadDim());
        }

        /** Patches run so far. */
        int position() {
            return pos;
        }
    }

    /** A cache for up to {@code capacity} patches (at most {@code max_seqlen}, the RoPE table's length). */
    Cache newCache(int capacity) {
        return new Cache(Math.min(capacity, config.maxSeqlen()));
    }

    /**
     * One step for the next patch: {@code x[k·dim_local]} is its vector from the encoder; {@code holdsEos} whether one
     * of its bytes is an EOS (with block_causal attention, later patches then no longer see it or anything before).
     * Returns the patch's output {@code [dim_global]} (valid until the next step).
     */
    float[] step(ParameterBuffer p, Cache c, float[] x, boolean holdsEos) {
        if (c.pos >= c.kv[0].capacity())
            throw new IllegalArgumentException("patch " + c.pos + " is past the global model's context (" + c.kv[0].capacity() + " patches)");
        float[] in = x;
        if (projection != null) {
            projection.forward(p, x, c.projected, 1);
            in = c.projected;
        }
        for (int i = 0; i < layers.length; i++) {
            float[] out = c.rows[i % 2]; // alternating, so a layer never writes its own input
            layers[i].step(p, in, out, c.pos, c.segmentStart, c.kv[i]);
            in = out;
        }
        if (holdsEos && config.globalEosSegments()) c.segmentStart = c.pos + 1;
        c.pos++;
        return in;
    }

    /** Reference initialisation ({@code BaseTransformer.init_weights}; projection σ = (k·dim_local)^-½). */
    void init(ParameterBuffer p, Random rng) {
        for (int i = 0; i < layers.length; i++)
            layers[i].init(p, rng, config.initBaseStd(), Blt.depthFactor(config, i, layers.length, dim));
        if (projection != null) projection.init(p, rng, Math.pow(inDim, -0.5));
    }
}

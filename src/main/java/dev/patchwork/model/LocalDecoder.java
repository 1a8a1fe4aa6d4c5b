package dev.patchwork.model;

import dev.patchwork.layers.LayerProfile;
import dev.patchwork.layers.AttentionMask;
import dev.patchwork.layers.CrossAttention;
import dev.patchwork.layers.KvCache;
import dev.patchwork.layers.Linear;
import dev.patchwork.layers.RmsNorm;
import dev.patchwork.layers.TransformerBlock;
import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.tensor.ParameterLayout;
import dev.patchwork.tensor.RopeTable;
import dev.patchwork.tensor.VectorOps;

import java.util.Arrays;
import java.util.Random;

/**
 * The BLT's local decoder (spec §5.7, the reference's {@code LocalDecoder}): the global output is projected to
 * {@code k} byte-width vectors per patch ({@code patch_embedding_projection}, when the widths differ); starting from
 * the encoder's byte states, each layer ℓ does {@code h = h + CA_ℓ(h, patches)} (double residual, see
 * {@link CrossAttention}; in every layer with {@code cross_attn_all_layers_decoder}, else only in the first) and then
 * {@code h = Block_ℓ(h)}; finally {@code logits = output(RMSNorm(h))}. Byte i cross-attends the k vectors of patch
 * {@code dpid[i]} (the patch before the one holding its target).
 */
public final class LocalDecoder {
    private final BltConfig config;
    private final int dim, k, vocab;
    private final TransformerBlock[] layers;
    private final Linear patchProjection;
    private final CrossAttention[] crossAttn;
    private final RmsNorm norm;
    private final Linear output;

    // activations of the last forward
    private int B, N, P, rows, kvRows;
    private float[] global, kv, projected = new float[0];
    private float[][] caOut = new float[0][], caIn = new float[0][], caSum = new float[0][];
    private float[] last, normed = new float[0], logits = new float[0];
    private AttentionMask crossMask = new AttentionMask(0);
    // backward
    private float[] dNormed = new float[0], dH = new float[0], dCa = new float[0], dKv = new float[0], dGlobal = new float[0];
    private float[] dBytes;

    LocalDecoder(ParameterLayout.Builder b, BltConfig c, RopeTable rope) {
        this.config = c;
        this.dim = c.dimLocalDecoder();
        this.k = c.crossAttnK();
        this.vocab = c.vocabSize();
        layers = new TransformerBlock[c.nLayersLocalDecoder()];
        int heads = c.nHeadsLocalDecoder();
        for (int i = 0; i < layers.length; i++)
            layers[i] = new TransformerBlock(b, "local_decoder.layers." + i + ".", dim, heads, c.localKvHeads(heads),
                    c.decoderHeadDim(), c.ffnHidden(dim), c.normEps(), rope);
        patchProjection = c.hasDecoderProjection()
                ? new Linear(b, "local_decoder.patch_embedding_projection.weight", c.dimGlobal(), k * dim) : null;
        crossAttn = new CrossAttention[c.crossAttnAllLayersDecoder() ? layers.length : 1];
        for (int i = 0; i < crossAttn.length; i++)
            crossAttn[i] = new CrossAttention(b, "local_decoder.cross_attn_layers." + i + ".", dim, c.crossAttnNheads(), c.normEps());
        norm = new RmsNorm(b, "local_decoder.norm.weight", dim, c.normEps());
        output = new Linear(b, "local_decoder.output.weight", dim, vocab);
    }

    private void ensure() {
        if (logits.length < rows * vocab) {
            logits = new float[rows * vocab];
            normed = new float[rows * dim];
            dNormed = new float[rows * dim];
            dH = new float[rows * dim];
            dCa = new float[rows * dim];
            caIn = new float[crossAttn.length][];
            caOut = new float[crossAttn.length][rows * dim];
            caSum = new float[crossAttn.length][rows * dim];
            crossMask = new AttentionMask(rows);
        }
        if (dKv.length < kvRows * dim) {
            dKv = new float[kvRows * dim];
            projected = new float[kvRows * dim];
            dGlobal = new float[B * P * config.dimGlobal()];
        }
    }

    /**
     * Runs the decoder from the encoder's byte states {@code bytes[B·N, dim]} and the global output
     * {@code global[B·P, dim_global]}; returns the logits {@code [B·N, vocab]} (valid until the next forward).
     */
    float[] forward(ParameterBuffer p, float[] bytes, float[] global, BltPatches patches, AttentionMask selfMask) {
        B = patches.rows();
        N = patches.bytes();
        P = patches.patches();
        rows = B * N;
        kvRows = B * P * k;
        ensure();
        this.global = global;
        patches.decoderCrossMask(crossMask, k, config.crossAttnWindowDecoder());
        kv = global;
        if (patchProjection != null) {
            // [B·P, k·dim] viewed as [B·P·k, dim]: patch p's k vectors are rows p·k … p·k+k−1
            patchProjection.forward(p, global, projected, B * P);
            kv = projected;
        }
        float[] h = bytes;
        for (int i = 0; i < layers.length; i++) {
            if (i < crossAttn.length) {
                caIn[i] = h;
                long t = LayerProfile.start();
                crossAttn[i].forward(p, h, rows, kv, kvRows, crossMask, caOut[i]);
                LayerProfile.stop(LayerProfile.Kind.CROSS_ATTENTION, false, t);
                VectorOps.add(h, 0, caOut[i], 0, caSum[i], 0, rows * dim); // the caller's residual
                h = caSum[i];
            }
            h = layers[i].forward(p, h, B, N, selfMask);
        }
        last = h;
        long t = LayerProfile.start();
        norm.forward(p, h, normed, rows);
        LayerProfile.stop(LayerProfile.Kind.NORM, false, t);
        t = LayerProfile.start();
        output.forward(p, normed, logits, rows);
        LayerProfile.stop(LayerProfile.Kind.OUTPUT_AND_LOSS, false, t);
        return logits;
    }

    /** The decoder's cross-attention keys/values of the last forward, {@code [B·P·k, dim]} (for tests). */
    float[] patchVectors() {
        return kv;
    }

    /**
     * Backward from {@code dLogits}: adds parameter gradients into {@code g}; then {@link #dBytes()} and
     * {@link #dGlobal()} hold ∂L/∂ of the two inputs (internal buffers, valid until the next backward).
     */
    void backward(ParameterBuffer p, ParameterBuffer g, float[] dLogits) {
        Arrays.fill(dNormed, 0, rows * dim, 0f);
        long t = LayerProfile.start();
        output.backward(p, g, normed, dLogits, dNormed, rows, false);
        LayerProfile.stop(LayerProfile.Kind.OUTPUT_AND_LOSS, true, t);
        Arrays.fill(dH, 0, rows * dim, 0f);
        t = LayerProfile.start();
        norm.backward(p, g, last, dNormed, dH, rows);
        LayerProfile.stop(LayerProfile.Kind.NORM, true, t);
        Arrays.fill(dKv, 0, kvRows * dim, 0f);
        float[] d = dH;
        for (int i = layers.length - 1; i >= 0; i--) {
            d = layers[i].backward(p, g, d);
            if (i < crossAttn.length) {
                // sum = in + CA(in): ∂in = ∂sum + ∂CA/∂in (which includes CA's own residual)
                long t1 = LayerProfile.start();
                crossAttn[i].backward(p, g, d, dCa, dKv);
                LayerProfile.stop(LayerProfile.Kind.CROSS_ATTENTION, true, t1);
                VectorOps.addInPlace(d, 0, dCa, 0, rows * dim);
            }
        }
        dBytes = d;
        if (patchProjection != null) patchProjection.backward(p, g, global, dKv, dGlobal, B * P, false);
        else System.arraycopy(dKv, 0, dGlobal, 0, B * P * dim);
    }

    float[] dBytes() {
        return dBytes;
    }

    float[] dGlobal() {
        return dGlobal;
    }

    // ---- incremental decoding -------------------------------------------------------------------------------------

    /**
     * The decoder's decoding state for one sequence: the byte layers' KV caches, where the current EOS segment starts,
     * and the cross-attention keys and values of the patch the next bytes read (projected once per patch).
     */
    final class Cache {
        private final KvCache[] kv = new KvCache[layers.length];
        private final float[][] patchKv = new float[crossAttn.length][];
        private final float[] projected = new float[k * dim], ca = new float[dim], normedRow = new float[dim];
        private final float[][] rows = new float[2][dim];
        private final float[] logitsRow = new float[vocab];
        private int segmentStart;
        private boolean hasPatch;

        Cache(int capacity) {
            for (int i = 0; i < layers.length; i++)
                kv[i] = KvCache.sliding(capacity, config.localWindow(), config.localKvHeads(config.nHeadsLocalDecoder()), config.decoderHeadDim());
            for (int j = 0; j < crossAttn.length; j++) patchKv[j] = new float[k * crossAttn[j].projectedWidth()];
        }
    }

    Cache newCache(int capacity) {
        if (config.crossAttnWindowDecoder() != null && config.crossAttnWindowDecoder() != 1)
            throw new IllegalArgumentException("cross_attn_window_decoder=" + config.crossAttnWindowDecoder()
                    + " (bytes that also see earlier patches) is not supported by incremental generation; use --no-cache");
        return new Cache(Math.min(capacity, config.maxEncoderSeqLength()));
    }

    /**
     * Makes the global output {@code g[dim_global]} of a patch the one the next bytes cross-attend: projects it to k
     * byte-width vectors and those to every cross-attention layer's keys and values.
     */
    void setPatch(ParameterBuffer p, Cache c, float[] g) {
        float[] kvIn = g;
        if (patchProjection != null) {
            patchProjection.forward(p, g, c.projected, 1);
            kvIn = c.projected;
        }
        for (int j = 0; j < crossAttn.length; j++) crossAttn[j].projectKeysValues(p, kvIn, k, c.patchKv[j]);
        c.hasPatch = true;
    }

    /**
     * One decoding step for the byte {@code id} at position {@code t}, from its encoder state {@code hEnc[dim]}:
     * cross-attends the current patch ({@link #setPatch}) in the layers that have cross-attention, runs the byte
     * layers, and returns the logits for the next id (valid until the next step), or null unless {@code logits}
     * (prompt bytes before the last need only their KV cache entries).
     */
    float[] step(ParameterBuffer p, Cache c, float[] hEnc, int id, int t, boolean logits) {
        if (!c.hasPatch) throw new IllegalStateException("the decoder has no patch to attend yet");
        int window = config.localWindow();
        int keyFrom = window > 0 ? Math.max(c.segmentStart, t - window + 1) : c.segmentStart;
        float[] h = hEnc;
        for (int i = 0; i < layers.length; i++) {
            float[] a = c.rows[0], b = c.rows[1];
            if (i < crossAttn.length) {
                crossAttn[i].step(p, h, 1, c.patchKv[i], k, c.ca);
                float[] sum = h == a ? b : a;
                VectorOps.add(h, 0, c.ca, 0, sum, 0, dim); // the caller's residual
                h = sum;
            }
            float[] out = h == a ? b : a;
            layers[i].step(p, h, out, t, keyFrom, c.kv[i]);
            h = out;
        }
        if (id == config.eosId()) c.segmentStart = t + 1; // EOS closes its segment
        if (!logits) return null;
        norm.forward(p, h, c.normedRow, 1);
        output.forward(p, c.normedRow, c.logitsRow, 1);
        return c.logitsRow;
    }

    /** Reference initialisation: output σ = dim^-½, patch projection σ = dim_global^-½, norms 1. */
    void init(ParameterBuffer p, Random rng) {
        for (int i = 0; i < layers.length; i++) layers[i].init(p, rng, null, Blt.depthFactor(config, i, layers.length, dim));
        if (patchProjection != null) patchProjection.init(p, rng, Math.pow(config.dimGlobal(), -0.5));
        for (int j = 0; j < crossAttn.length; j++) crossAttn[j].init(p, rng, Blt.depthFactor(config, j, layers.length, dim));
        norm.init(p);
        output.init(p, rng, Math.pow(dim, -0.5));
    }
}

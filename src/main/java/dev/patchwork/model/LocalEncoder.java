package dev.patchwork.model;

import dev.patchwork.layers.LayerProfile;
import dev.patchwork.layers.AttentionMask;
import dev.patchwork.layers.CrossAttention;
import dev.patchwork.layers.Embedding;
import dev.patchwork.layers.HashNgramEmbedding;
import dev.patchwork.layers.KvCache;
import dev.patchwork.layers.Linear;
import dev.patchwork.layers.PatchMaxPool;
import dev.patchwork.layers.TransformerBlock;
import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.tensor.ParameterLayout;
import dev.patchwork.tensor.RopeTable;
import dev.patchwork.tensor.VectorOps;

import java.util.Arrays;
import java.util.Random;

/**
 * The BLT's local encoder (spec §5.2–§5.4, the reference's {@code LocalEncoder} plus {@code compute_hash_embeddings}):
 * byte embedding + hash n-gram embeddings → byte transformer layers (window, EOS segments, RoPE over byte positions)
 * → cross-attention that pools bytes into patches.
 *
 * <p>Patches: at the first cross-attention layer, the bytes of each patch are max-pooled, projected to
 * {@code k·dim} and split into {@code k} query vectors; then {@code patch = patch + CA(patch, h)} (the double
 * residual of {@link CrossAttention}) after the last layer, or after every layer with
 * {@code cross_attn_all_layers_encoder} (pooling the first layer's output). The byte states of the last layer, before
 * any cross-attention, go to the decoder.
 */
public final class LocalEncoder {
    private final BltConfig config;
    private final int dim, k;
    private final Embedding tokEmbeddings;
    private final HashNgramEmbedding hash;
    private final TransformerBlock[] layers;
    private final Linear patchProjection;
    private final CrossAttention[] crossAttn;
    private final PatchMaxPool pool;

    // activations of the last forward
    private int[] ids;
    private int B, N, P, rows, queries;
    private float[] embeds = new float[0], pooled = new float[0], queries0 = new float[0];
    private float[][] layerOut;              // layer i's output (the block's own buffer)
    private float[][] caOut = new float[0][], patchOut = new float[0][];
    private int[] poolFrom = new int[0], poolTo = new int[0];
    private AttentionMask crossMask = new AttentionMask(0);
    // backward scratch
    private float[][] dLayerOut = new float[0][];
    private float[] dPatch = new float[0], dCa = new float[0], dPooled = new float[0];

    LocalEncoder(ParameterLayout.Builder b, BltConfig c, RopeTable rope) {
        this.config = c;
        this.dim = c.dimLocalEncoder();
        this.k = c.crossAttnK();
        tokEmbeddings = new Embedding(b, "local_encoder.tok_embeddings.weight", c.vocabSize(), dim);
        hash = c.hashTables() == 0 ? null : new HashNgramEmbedding(b, "encoder_hash_tok_embedding.", c.hashSizes(),
                c.encoderHashByteGroupNbFunctions(), c.encoderHashByteGroupVocab(), dim);
        layers = new TransformerBlock[c.nLayersLocalEncoder()];
        int heads = c.nHeadsLocalEncoder();
        for (int i = 0; i < layers.length; i++)
            layers[i] = new TransformerBlock(b, "local_encoder.layers." + i + ".", dim, heads, c.localKvHeads(heads),
                    c.encoderHeadDim(), c.ffnHidden(dim), c.normEps(), rope);
        patchProjection = new Linear(b, "local_encoder.patch_embedding_projection.weight", dim, k * dim);
        crossAttn = new CrossAttention[c.crossAttnAllLayersEncoder() ? layers.length : 1];
        for (int i = 0; i < crossAttn.length; i++)
            crossAttn[i] = new CrossAttention(b, "local_encoder.cross_attn_layers." + i + ".", dim, c.crossAttnNheads(), c.normEps());
        pool = new PatchMaxPool(dim);
        layerOut = new float[layers.length][];
    }

    /** Index of the encoder layer after which cross-attention layer {@code j} runs. */
    private int layerOf(int j) {
        return crossAttn.length == 1 ? layers.length - 1 : j;
    }

    private void ensure() {
        if (embeds.length < rows * dim) embeds = new float[rows * dim];
        if (pooled.length < B * P * dim) {
            pooled = new float[B * P * dim];
            dPooled = new float[B * P * dim];
            queries0 = new float[queries * dim];
            dPatch = new float[queries * dim];
            dCa = new float[queries * dim];
            caOut = new float[crossAttn.length][queries * dim];
            patchOut = new float[crossAttn.length][queries * dim];
            poolFrom = new int[B * P];
            poolTo = new int[B * P];
            crossMask = new AttentionMask(queries);
        }
    }

    /**
     * Runs the encoder on {@code ids[B·N]}; returns the byte states of the last layer {@code [B·N, dim]} (valid until
     * the next forward). The patch vectors are then {@link #patches()}.
     */
    float[] forward(ParameterBuffer p, int[] ids, BltPatches patches, AttentionMask selfMask) {
        this.ids = ids;
        B = patches.rows();
        N = patches.bytes();
        P = patches.patches();
        rows = B * N;
        queries = B * P * k;
        ensure();
        patches.patchRows(poolFrom, poolTo);
        patches.encoderCrossMask(crossMask, k, config.crossAttnWindowEncoder());

        long t = LayerProfile.start();
        tokEmbeddings.forward(p, ids, 0, rows, embeds);
        if (hash != null) hash.forward(p, ids, B, N, embeds);
        LayerProfile.stop(LayerProfile.Kind.EMBEDDING, false, t);
        float[] h = embeds, patch = null;
        for (int i = 0, j = 0; i < layers.length; i++) {
            h = layerOut[i] = layers[i].forward(p, h, B, N, selfMask);
            if (j < crossAttn.length && layerOf(j) == i) {
                if (patch == null) {
                    pool.forward(h, B * P, poolFrom, poolTo, pooled);
                    // [B·P, k·dim] viewed as [B·P·k, dim]: query p·k + j is slice j of patch p's vector
                    patchProjection.forward(p, pooled, queries0, B * P);
                    patch = queries0;
                }
                t = LayerProfile.start();
                crossAttn[j].forward(p, patch, queries, h, rows, crossMask, caOut[j]);
                LayerProfile.stop(LayerProfile.Kind.CROSS_ATTENTION, false, t);
                VectorOps.add(patch, 0, caOut[j], 0, patchOut[j], 0, queries * dim); // the caller's residual
                patch = patchOut[j];
                j++;
            }
        }
        return h;
    }

    /** The patch vectors of the last forward, {@code [B·P·k, dim]} = {@code [B·P, k·dim]}. */
    float[] patches() {
        return patchOut[crossAttn.length - 1];
    }

    /** The summed byte and hash embeddings of the last forward (for tests). */
    float[] embeddings() {
        return embeds;
    }

    /** The max-pooled patches of the last forward, {@code [B·P, dim]} (for tests). */
    float[] pooled() {
        return pooled;
    }

    /**
     * Backward for the last forward: {@code dBytes} is ∂L/∂(byte states returned by forward), {@code dPatches}
     * ∂L/∂{@link #patches()}. Adds every parameter gradient into {@code g}. Both arrays are left unchanged.
     */
    void backward(ParameterBuffer p, ParameterBuffer g, float[] dBytes, float[] dPatches) {
        if (dLayerOut.length != layers.length || dLayerOut[0].length < rows * dim)
            dLayerOut = new float[layers.length][rows * dim];
        for (float[] d : dLayerOut) Arrays.fill(d, 0, rows * dim, 0f);

        // patch path, last cross-attention first: patchOut_j = patchIn_j + CA_j(patchIn_j, h)
        System.arraycopy(dPatches, 0, dPatch, 0, queries * dim);
        for (int j = crossAttn.length - 1; j >= 0; j--) {
            long t = LayerProfile.start();
            crossAttn[j].backward(p, g, dPatch, dCa, dLayerOut[layerOf(j)]);
            LayerProfile.stop(LayerProfile.Kind.CROSS_ATTENTION, true, t);
            VectorOps.addInPlace(dPatch, 0, dCa, 0, queries * dim);
        }
        Arrays.fill(dPooled, 0, B * P * dim, 0f);
        patchProjection.backward(p, g, pooled, dPatch, dPooled, B * P, false);
        pool.backward(dPooled, dLayerOut[layerOf(0)]);

        // byte path, last layer first
        float[] d = dLayerOut[layers.length - 1];
        VectorOps.addInPlace(d, 0, dBytes, 0, rows * dim);
        for (int i = layers.length - 1; i >= 0; i--) {
            d = layers[i].backward(p, g, d);
            if (i > 0) VectorOps.addInPlace(d, 0, dLayerOut[i - 1], 0, rows * dim);
        }
        long t = LayerProfile.start();
        tokEmbeddings.backward(g, ids, 0, rows, d);
        if (hash != null) hash.backward(g, d);
        LayerProfile.stop(LayerProfile.Kind.EMBEDDING, true, t);
    }

    // ---- incremental decoding -------------------------------------------------------------------------------------

    /**
     * The encoder's decoding state for one sequence: the byte layers' KV caches, where the current EOS segment starts,
     * and every layer's byte states of the open patch (the bytes since the last closed patch), which pooling and the
     * cross-attention read when the patch closes.
     */
    final class Cache {
        private final KvCache[] kv = new KvCache[layers.length];
        private final float[] x = new float[dim], pooled = new float[dim], queries0 = new float[k * dim], ca = new float[k * dim];
        private final float[][] rows = new float[2][dim], patch = new float[2][k * dim];
        private float[][] open = new float[layers.length][8 * dim];
        private float[] projected = new float[0];
        private int openBytes, segmentStart;
        private boolean openHoldsEos;

        Cache(int capacity) {
            for (int i = 0; i < layers.length; i++)
                kv[i] = KvCache.sliding(capacity, config.localWindow(), config.localKvHeads(config.nHeadsLocalEncoder()), config.encoderHeadDim());
        }

        /** Whether a byte of the open patch is an EOS (the global model's attention then stops after this patch). */
        boolean openHoldsEos() {
            return openHoldsEos;
        }
    }

    Cache newCache(int capacity) {
        if (config.crossAttnWindowEncoder() != null && config.crossAttnWindowEncoder() != 1)
            throw new IllegalArgumentException("cross_attn_window_encoder=" + config.crossAttnWindowEncoder()
                    + " (patches that also see earlier patches' bytes) is not supported by incremental generation; use --no-cache");
        return new Cache(Math.min(capacity, config.maxEncoderSeqLength()));
    }

    /**
     * One decoding step: runs the byte at position {@code t} of {@code ids} (the sequence so far, from its start)
     * through the embeddings and byte layers, and adds it to the open patch. Returns its last-layer state
     * {@code [dim]} (the decoder's input; valid until the next step).
     */
    float[] step(ParameterBuffer p, Cache c, int[] ids, int t) {
        tokEmbeddings.forward(p, ids, t, 1, c.x);
        if (hash != null) hash.step(p, ids, 0, t, c.x);
        int window = config.localWindow();
        int keyFrom = window > 0 ? Math.max(c.segmentStart, t - window + 1) : c.segmentStart;
        if (c.open[0].length < (c.openBytes + 1) * dim)
            for (int i = 0; i < layers.length; i++) c.open[i] = Arrays.copyOf(c.open[i], 2 * c.open[i].length);
        float[] in = c.x;
        for (int i = 0; i < layers.length; i++) {
            float[] out = c.rows[i % 2]; // alternating, so a layer never writes its own input
            layers[i].step(p, in, out, t, keyFrom, c.kv[i]);
            System.arraycopy(out, 0, c.open[i], c.openBytes * dim, dim);
            in = out;
        }
        c.openBytes++;
        if (ids[t] == config.eosId()) {
            c.segmentStart = t + 1; // EOS closes its segment
            c.openHoldsEos = true;
        }
        return in;
    }

    /**
     * Closes the open patch: max-pools its bytes, projects them to the k queries and runs the cross-attention(s) over
     * its bytes, exactly as {@link #forward} does for a complete patch. Returns the patch vector {@code [k·dim]} (the
     * global model's input; valid until the next close) and empties the open patch.
     */
    float[] closePatch(ParameterBuffer p, Cache c) {
        int bytes = c.openBytes;
        if (bytes == 0) throw new IllegalStateException("no byte in the open patch");
        float[] first = c.open[layerOf(0)];
        System.arraycopy(first, 0, c.pooled, 0, dim);
        for (int r = 1; r < bytes; r++)
            for (int d = 0; d < dim; d++) c.pooled[d] = Math.max(c.pooled[d], first[r * dim + d]);
        patchProjection.forward(p, c.pooled, c.queries0, 1);
        float[] patch = c.queries0;
        for (int j = 0; j < crossAttn.length; j++) {
            int width = crossAttn[j].projectedWidth();
            if (c.projected.length < bytes * width) c.projected = new float[bytes * width];
            crossAttn[j].projectKeysValues(p, c.open[layerOf(j)], bytes, c.projected);
            float[] next = patch == c.patch[0] ? c.patch[1] : c.patch[0];
            crossAttn[j].step(p, patch, k, c.projected, bytes, c.ca);
            VectorOps.add(patch, 0, c.ca, 0, next, 0, k * dim); // the caller's residual
            patch = next;
        }
        c.openBytes = 0;
        c.openHoldsEos = false;
        return patch;
    }

    /** Reference initialisation (spec §7; {@code LocalModelBase.init_weights} and the hash tables of {@code Blt}). */
    void init(ParameterBuffer p, Random rng) {
        double std = Math.pow(dim, -0.5);
        tokEmbeddings.init(p, rng, std);
        if (hash != null) hash.init(p, rng, std);
        for (int i = 0; i < layers.length; i++) layers[i].init(p, rng, null, Blt.depthFactor(config, i, layers.length, dim));
        patchProjection.init(p, rng, std); // σ = (input width)^-½, the input being the pooled byte states
        for (int j = 0; j < crossAttn.length; j++)
            crossAttn[j].init(p, rng, Blt.depthFactor(config, j, layers.length, dim));
    }
}

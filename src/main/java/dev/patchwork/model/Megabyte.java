package dev.patchwork.model;

import dev.patchwork.layers.AttentionMask;
import dev.patchwork.layers.Embedding;
import dev.patchwork.layers.Init;
import dev.patchwork.layers.KvCache;
import dev.patchwork.layers.Linear;
import dev.patchwork.layers.RmsNorm;
import dev.patchwork.layers.TransformerBlock;
import dev.patchwork.tensor.CrossEntropyKernel;
import dev.patchwork.tensor.EmbeddingKernel;
import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.tensor.ParameterLayout;
import dev.patchwork.tensor.RopeTable;

import java.util.Arrays;
import java.util.Random;

/**
 * MEGABYTE (arXiv 2305.07185; spec seed-systems §1): a global transformer over fixed patches of P bytes and a local
 * transformer that predicts the bytes inside each patch. With K = T/P patches per row:
 * <ul>
 *   <li>byte embeddings {@code e_t = E_glob[x_t] + E_pos[t]} (width D_G); a patch's P embeddings concatenated form
 *       one global row of width P·D_G;</li>
 *   <li>global input row 0 is the trainable {@code global_pad}, row k is patch k−1 (the last patch is dropped), so
 *       the global output {@code g_k} has seen only patches before k;</li>
 *   <li>global: causal pre-norm blocks over the K rows, then RMSNorm;</li>
 *   <li>local input {@code l_{k,p} = W_GL·g_k[p·D_G:(p+1)·D_G] + E_loc[x_{kP+p−1}]}, with the trainable
 *       {@code local_pad} in place of the byte term at p = 0 (the previous byte is already known to the global
 *       model);</li>
 *   <li>local: causal pre-norm blocks over each patch independently (B·K rows of P), RMSNorm, output logits that
 *       predict {@code x_{kP+p}}.</li>
 * </ul>
 * So the logits at position t depend on {@code x_0 … x_{t−1}} only: the model predicts every id of its input, and the
 * caller's targets are the input ids themselves (negative targets are ignored). All parameters live in one buffer.
 */
public final class Megabyte implements WindowModel {
    private final MegabyteConfig config;
    private final ParameterLayout layout;
    private final ParameterBuffer params;
    private final Embedding globalEmbeddings, globalPositions, localEmbeddings;
    private final ParameterLayout.View globalPad, localPad;
    private final TransformerBlock[] globalLayers, localLayers;
    private final RmsNorm globalNorm, localNorm;
    private final Linear globalToLocal, output;
    private final int P, dG, width, dL, vocab;

    // activations of the last forward
    private int[] ids, positions = new int[0];
    private int B, T, K;
    private float[] embedded = new float[0], posScratch = new float[0], globalIn = new float[0], globalNormed = new float[0];
    private float[] localIn = new float[0], localNormed = new float[0], logits = new float[0], dLogits = new float[0];
    private float[] globalLast, localLast;
    private float[] dLocalNormed = new float[0], dLocalLast = new float[0], dGlobalNormed = new float[0];
    private float[] dGlobalLast = new float[0], dEmbedded = new float[0];
    private AttentionMask globalMask = new AttentionMask(0), localMask = new AttentionMask(0);

    private Megabyte(MegabyteConfig config, java.util.function.Function<ParameterLayout, ParameterBuffer> storage) {
        this.config = config;
        P = config.patchSize();
        dG = config.globalDim();
        width = config.globalWidth();
        dL = config.localDim();
        vocab = config.vocabSize();
        RopeTable globalRope = new RopeTable(config.globalHeadDim(), config.maxPatches(), config.ropeTheta());
        RopeTable localRope = new RopeTable(config.localHeadDim(), P, config.ropeTheta());
        ParameterLayout.Builder b = ParameterLayout.builder();
        globalEmbeddings = new Embedding(b, "global_embeddings.weight", vocab, dG);
        globalPositions = new Embedding(b, "global_positions.weight", config.maxSeqlen(), dG);
        globalPad = b.add("global_pad", width);
        globalLayers = new TransformerBlock[config.globalLayers()];
        for (int i = 0; i < globalLayers.length; i++)
            globalLayers[i] = new TransformerBlock(b, "global.layers." + i + ".", width, config.globalHeads(),
                    config.globalHeads(), config.globalHeadDim(), config.globalFfnHidden(), config.normEps(), globalRope);
        globalNorm = new RmsNorm(b, "global.norm.weight", width, config.normEps());
        globalToLocal = new Linear(b, "global_to_local.weight", dG, dL);
        localEmbeddings = new Embedding(b, "local_embeddings.weight", vocab, dL);
        localPad = b.add("local_pad", dL);
        localLayers = new TransformerBlock[config.localLayers()];
        for (int i = 0; i < localLayers.length; i++)
            localLayers[i] = new TransformerBlock(b, "local.layers." + i + ".", dL, config.localHeads(),
                    config.localHeads(), config.localHeadDim(), config.localFfnHidden(), config.normEps(), localRope);
        localNorm = new RmsNorm(b, "local.norm.weight", dL, config.normEps());
        output = new Linear(b, "output.weight", dL, vocab);
        layout = b.build();
        params = storage.apply(layout);
    }

    /** The parameter layout a config gives, without allocating parameters. */
    public static ParameterLayout layoutOf(MegabyteConfig config) {
        return new Megabyte(config, l -> null).layout;
    }

    /** A freshly initialised model, seeded by {@code config.seed()}. */
    public static Megabyte initialise(MegabyteConfig config) {
        Megabyte m = new Megabyte(config, ParameterBuffer::allocate);
        m.init(new Random(config.seed()));
        return m;
    }

    /** A model over existing parameters; the buffer's layout must match the config. */
    public static Megabyte withParameters(MegabyteConfig config, ParameterBuffer params) {
        return new Megabyte(config, ParameterBuffer.reusing(params, "MEGABYTE config"));
    }

    /** A model with zero parameters, to be filled by a checkpoint reader. */
    public static Megabyte uninitialised(MegabyteConfig config) {
        return new Megabyte(config, ParameterBuffer::allocate);
    }

    /** The byte LM's initialisation: σ = width^−½ for embeddings, pads and projections, reference blocks. */
    private void init(Random rng) {
        globalEmbeddings.init(params, rng, Math.pow(dG, -0.5));
        globalPositions.init(params, rng, Math.pow(dG, -0.5));
        Init.truncNormal(params, globalPad, rng, Math.pow(dG, -0.5));
        for (TransformerBlock l : globalLayers) l.init(params, rng, null, 1.0);
        globalNorm.init(params);
        globalToLocal.init(params, rng, Math.pow(dG, -0.5));
        localEmbeddings.init(params, rng, Math.pow(dL, -0.5));
        Init.truncNormal(params, localPad, rng, Math.pow(dL, -0.5));
        for (TransformerBlock l : localLayers) l.init(params, rng, null, 1.0);
        localNorm.init(params);
        output.init(params, rng, Math.pow(dL, -0.5));
    }

    public MegabyteConfig config() {
        return config;
    }

    public ParameterLayout layout() {
        return layout;
    }

    public ParameterBuffer parameters() {
        return params;
    }

    public int vocab() {
        return vocab;
    }

    /**
     * Forward pass over {@code ids[B·T]} ({@code T} a multiple of the patch size, at most {@code max_seqlen});
     * returns the logits {@code [B·T, vocab]}, row t predicting {@code ids[t]} from the ids before it (the model's
     * own buffer, valid until the next call). Keeps the activations for {@link #backward}.
     */
    public float[] forward(int[] ids, int B, int T) {
        if (T > config.maxSeqlen())
            throw new IllegalArgumentException("sequence length " + T + " exceeds max_seqlen " + config.maxSeqlen());
        if (T % P != 0)
            throw new IllegalArgumentException("sequence length " + T + " is not a multiple of patch_size " + P + ": pad or crop the input");
        int rows = B * T;
        this.ids = ids;
        this.B = B;
        this.T = T;
        this.K = T / P;
        ensure(rows);
        embedBytes(rows);
        buildGlobalInput();
        globalMask.causal(null, B, K, 0, -1);
        float[] x = globalIn;
        for (TransformerBlock l : globalLayers) x = l.forward(params, x, B, K, globalMask);
        globalLast = x;
        globalNorm.forward(params, x, globalNormed, B * K);
        // [B·K, P·D_G] read as [B·T, D_G]: row b·T + kP + p is the slice p of g_k, the projection is one matmul
        globalToLocal.forward(params, globalNormed, localIn, rows);
        addShiftedLocalEmbeddings();
        localMask.causal(null, B * K, P, 0, -1);
        x = localIn;
        for (TransformerBlock l : localLayers) x = l.forward(params, x, B * K, P, localMask);
        localLast = x;
        localNorm.forward(params, x, localNormed, rows);
        output.forward(params, localNormed, logits, rows);
        return logits;
    }

    private void ensure(int rows) {
        if (embedded.length < rows * dG) {
            embedded = new float[rows * dG];
            posScratch = new float[rows * dG];
            globalIn = new float[rows * dG];
            globalNormed = new float[rows * dG];
            localIn = new float[rows * dL];
            localNormed = new float[rows * dL];
            logits = new float[rows * vocab];
            positions = new int[rows];
            globalMask = new AttentionMask(rows / P);
            localMask = new AttentionMask(rows);
        }
    }

    /** {@code embedded[b·T + t] = E_glob[x_t] + E_pos[t]}. */
    private void embedBytes(int rows) {
        for (int i = 0; i < rows; i++) positions[i] = i % T;
        globalEmbeddings.forward(params, ids, 0, rows, embedded);
        globalPositions.forward(params, positions, 0, rows, posScratch);
        for (int i = 0; i < rows * dG; i++) embedded[i] += posScratch[i];
    }

    /** The padding/shift trick: global row 0 of each sequence is the pad, row k is patch k−1. */
    private void buildGlobalInput() {
        float[] pad = params.toArray(globalPad);
        for (int b = 0; b < B; b++) {
            System.arraycopy(pad, 0, globalIn, b * T * dG, width);
            System.arraycopy(embedded, b * T * dG, globalIn, (b * T + P) * dG, (T - P) * dG);
        }
    }

    /** Adds the previous byte's local embedding (the pad at the first byte of each patch) to the projections. */
    private void addShiftedLocalEmbeddings() {
        float[] pad = params.toArray(localPad);
        float[] row = new float[(P - 1) * dL];
        for (int patch = 0; patch < B * K; patch++) {
            int t0 = patch * P;
            for (int j = 0; j < dL; j++) localIn[t0 * dL + j] += pad[j];
            if (P == 1) continue;
            EmbeddingKernel.gather(params.segment(), localEmbeddings.table().offset(), vocab, dL, ids, t0, P - 1, row, 0);
            for (int j = 0; j < (P - 1) * dL; j++) localIn[(t0 + 1) * dL + j] += row[j];
        }
    }

    /**
     * Cross-entropy of the last forward's logits against {@code targets} (usually the input ids; negative targets
     * are ignored); when {@code withGradient}, also prepares {@code ∂(mean loss)/∂logits} for {@link #backward}.
     *
     * @param losses per-position losses in nats, or null
     * @return the summed loss in nats over the counted positions
     */
    public double loss(int[] targets, float[] losses, boolean withGradient) {
        return crossEntropy(targets, losses, withGradient, CrossEntropyKernel.counted(targets, B * T));
    }

    @Override
    public double loss(int[] targets, long meanOver) {
        return crossEntropy(targets, null, true, meanOver);
    }

    private double crossEntropy(int[] targets, float[] losses, boolean withGradient, long meanOver) {
        int rows = B * T;
        float scale = meanOver == 0 ? 0f : 1f / meanOver;
        if (withGradient && dLogits.length < rows * vocab) dLogits = new float[rows * vocab];
        return CrossEntropyKernel.forwardBackward(logits, rows, vocab, targets, 0, losses, withGradient ? dLogits : null, scale);
    }

    @Override
    public Megabyte replica() {
        return withParameters(config, params);
    }

    /** Adds the gradient of the mean loss (from {@link #loss} with a gradient) into {@code grads}. */
    public void backward(ParameterBuffer grads) {
        int rows = B * T;
        if (dLocalNormed.length < rows * dL) {
            dLocalNormed = new float[rows * dL];
            dLocalLast = new float[rows * dL];
            dGlobalNormed = new float[rows * dG];
            dGlobalLast = new float[rows * dG];
            dEmbedded = new float[rows * dG];
        }
        output.backward(params, grads, localNormed, dLogits, dLocalNormed, rows, false);
        Arrays.fill(dLocalLast, 0, rows * dL, 0f);
        localNorm.backward(params, grads, localLast, dLocalNormed, dLocalLast, rows);
        float[] d = dLocalLast;
        for (int i = localLayers.length - 1; i >= 0; i--) d = localLayers[i].backward(params, grads, d);
        // d = ∂L/∂localIn: to the shifted local embeddings, the local pad and the projection
        float[] dPad = new float[dL];
        for (int patch = 0; patch < B * K; patch++) {
            int t0 = patch * P;
            for (int j = 0; j < dL; j++) dPad[j] += d[t0 * dL + j];
            if (P > 1)
                EmbeddingKernel.scatterAdd(grads.segment(), localEmbeddings.table().offset(), dL, ids, t0, P - 1, d, (t0 + 1) * dL);
        }
        addInto(grads, localPad, dPad);
        globalToLocal.backward(params, grads, globalNormed, d, dGlobalNormed, rows, false);
        Arrays.fill(dGlobalLast, 0, rows * dG, 0f);
        globalNorm.backward(params, grads, globalLast, dGlobalNormed, dGlobalLast, B * K);
        d = dGlobalLast;
        for (int i = globalLayers.length - 1; i >= 0; i--) d = globalLayers[i].backward(params, grads, d);
        // d = ∂L/∂globalIn: row 0 to the pad, row k to patch k−1; the last patch feeds no global row
        float[] dGlobalPad = new float[width];
        for (int b = 0; b < B; b++) {
            for (int j = 0; j < width; j++) dGlobalPad[j] += d[b * T * dG + j];
            System.arraycopy(d, (b * T + P) * dG, dEmbedded, b * T * dG, (T - P) * dG);
            Arrays.fill(dEmbedded, (b * T + T - P) * dG, (b + 1) * T * dG, 0f);
        }
        addInto(grads, globalPad, dGlobalPad);
        globalEmbeddings.backward(grads, ids, 0, rows, dEmbedded);
        globalPositions.backward(grads, positions, 0, rows, dEmbedded);
    }

    private static void addInto(ParameterBuffer grads, ParameterLayout.View v, float[] d) {
        for (int j = 0; j < d.length; j++) grads.set(v, j, grads.get(v, j) + d[j]);
    }

    /** Incremental decoding; one instance per generated sequence, holding at most {@code capacity} positions. */
    public Session newSession(int capacity) {
        return new Session(Math.min(capacity, config.maxSeqlen()));
    }

    /**
     * One sequence being decoded. The global model steps once per completed patch (its input is that patch's
     * concatenated embeddings, or the pad for the first patch); the local model steps once per byte with a KV cache
     * that restarts at every patch. {@link #logits()} always holds the prediction for position {@link #position()}.
     */
    public final class Session {
        private final int capacity;
        private final KvCache[] globalCaches, localCaches;
        private final float[] patch = new float[width], gx = new float[width], gy = new float[width], g = new float[width];
        private final float[] cond, x = new float[dL], y = new float[dL], n = new float[dL], out = new float[vocab];
        private final float[] byteEmb = new float[dG], posEmb = new float[dG];
        private final int[] one = new int[1];
        private int pos, lastId;

        private Session(int capacity) {
            if (capacity < 1) throw new IllegalArgumentException("session capacity must be >= 1, got " + capacity);
            this.capacity = capacity;
            cond = new float[P * dL];
            globalCaches = new KvCache[globalLayers.length];
            for (int i = 0; i < globalCaches.length; i++)
                globalCaches[i] = new KvCache(config.maxPatches(), config.globalHeads(), config.globalHeadDim());
            localCaches = new KvCache[localLayers.length];
            for (int i = 0; i < localCaches.length; i++)
                localCaches[i] = new KvCache(P, config.localHeads(), config.localHeadDim());
            predict();
        }

        /** Ids consumed so far; also the position that {@link #logits()} predicts. */
        public int position() {
            return pos;
        }

        public int capacity() {
            return capacity;
        }

        /** Whether another id can be fed (its successor's position must fit in the context). */
        public boolean full() {
            return pos + 1 >= capacity;
        }

        /** The logits for the id at {@link #position()} (the session's own buffer, valid until the next step). */
        public float[] logits() {
            return out;
        }

        /** Feeds the id at {@link #position()}; returns the logits for the next id. */
        public float[] step(int id) {
            if (full()) throw new IllegalStateException("context full (" + capacity + " positions); start a new session");
            one[0] = id;
            globalEmbeddings.forward(params, one, 0, 1, byteEmb);
            one[0] = pos;
            globalPositions.forward(params, one, 0, 1, posEmb);
            int off = (pos % P) * dG;
            for (int j = 0; j < dG; j++) patch[off + j] = byteEmb[j] + posEmb[j];
            lastId = id;
            pos++;
            predict();
            return out;
        }

        private void predict() {
            int p = pos % P;
            if (p == 0) globalStep(pos / P);
            System.arraycopy(cond, p * dL, x, 0, dL);
            if (p == 0) {
                float[] pad = params.toArray(localPad);
                for (int j = 0; j < dL; j++) x[j] += pad[j];
            } else {
                one[0] = lastId;
                localEmbeddings.forward(params, one, 0, 1, y);
                for (int j = 0; j < dL; j++) x[j] += y[j];
            }
            float[] in = x, o = y;
            for (int i = 0; i < localLayers.length; i++) {
                localLayers[i].step(params, in, o, p, 0, localCaches[i]);
                float[] t = in; in = o; o = t;
            }
            localNorm.forward(params, in, n, 1);
            output.forward(params, n, out, 1);
        }

        /** The global output for patch k (input: the pad, or patch k−1), projected to the P local conditions. */
        private void globalStep(int k) {
            if (k == 0) System.arraycopy(params.toArray(globalPad), 0, gx, 0, width);
            else System.arraycopy(patch, 0, gx, 0, width);
            float[] in = gx, o = gy;
            for (int i = 0; i < globalLayers.length; i++) {
                globalLayers[i].step(params, in, o, k, 0, globalCaches[i]);
                float[] t = in; in = o; o = t;
            }
            globalNorm.forward(params, in, g, 1);
            globalToLocal.forward(params, g, cond, P);
        }
    }
}

package dev.patchwork.model;

import dev.patchwork.layers.AttentionMask;
import dev.patchwork.layers.Embedding;
import dev.patchwork.layers.KvCache;
import dev.patchwork.layers.Linear;
import dev.patchwork.layers.RmsNorm;
import dev.patchwork.layers.LayerProfile;
import dev.patchwork.layers.TransformerBlock;
import dev.patchwork.tensor.CrossEntropyKernel;
import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.tensor.ParameterLayout;
import dev.patchwork.tensor.RopeTable;

import java.util.Random;

/**
 * The reference's byte-level {@code LMTransformer}: token embedding {@code [vocab, d]} → pre-norm blocks → RMSNorm →
 * output {@code [vocab, d]}. It is both the entropy model of BLT and the byte-level baseline. Parameter names are the
 * reference's ({@code tok_embeddings.weight}, {@code layers.{i}.…}, {@code norm.weight}, {@code output.weight}).
 *
 * <p>Training runs on a batch of {@code B} rows of {@code T} ids; positions restart at 0 in every row, attention is
 * causal within a row, limited by {@code sliding_window} and (with {@code local_block_causal}) split at EOS.
 */
public final class ByteLm implements WindowModel {
    private final ByteLmConfig config;
    private final ParameterLayout layout;
    private final ParameterBuffer params;
    private final Embedding tokEmbeddings;
    private final TransformerBlock[] layers;
    private final RmsNorm norm;
    private final Linear output;
    private final int dim, vocab;

    // activations of the last forward
    private float[] embedded = new float[0], last, normed = new float[0], logits = new float[0], dLogits = new float[0];
    private float[] dNormed = new float[0], dHidden = new float[0];
    private int[] ids;
    private int B, T;
    private AttentionMask mask = new AttentionMask(0);

    private ByteLm(ByteLmConfig config, java.util.function.Function<ParameterLayout, ParameterBuffer> storage) {
        this.config = config;
        this.dim = config.dim();
        this.vocab = config.vocabSize();
        RopeTable rope = new RopeTable(config.headDimension(), config.maxSeqlen(), config.ropeTheta());
        ParameterLayout.Builder b = ParameterLayout.builder();
        tokEmbeddings = new Embedding(b, "tok_embeddings.weight", vocab, dim);
        layers = new TransformerBlock[config.nLayers()];
        for (int i = 0; i < layers.length; i++) {
            layers[i] = new TransformerBlock(b, "layers." + i + ".", dim, config.heads(), config.kvHeads(),
                    config.headDimension(), config.ffnHidden(), config.normEps(), rope);
        }
        norm = new RmsNorm(b, "norm.weight", dim, config.normEps());
        output = new Linear(b, "output.weight", dim, vocab);
        layout = b.build();
        params = storage.apply(layout);
    }

    /** The parameter layout a config gives (names, shapes, offsets), without allocating parameters. */
    public static ParameterLayout layoutOf(ByteLmConfig config) {
        return new ByteLm(config, l -> null).layout;
    }

    /** A freshly initialised model (reference initialisation, seeded by {@code config.seed()}). */
    public static ByteLm initialise(ByteLmConfig config) {
        ByteLm m = new ByteLm(config, ParameterBuffer::allocate);
        m.init(new Random(config.seed()));
        return m;
    }

    /** A model over existing parameters (e.g. loaded from a checkpoint); the buffer's layout must match. */
    public static ByteLm withParameters(ByteLmConfig config, ParameterBuffer params) {
        return new ByteLm(config, ParameterBuffer.reusing(params, "model config"));
    }

    /** A model with zero parameters, to be filled by a checkpoint reader. */
    public static ByteLm uninitialised(ByteLmConfig config) {
        return new ByteLm(config, ParameterBuffer::allocate);
    }

    private void init(Random rng) {
        double std = Math.pow(dim, -0.5);
        tokEmbeddings.init(params, rng, std);
        for (int i = 0; i < layers.length; i++) {
            double factor = dev.patchwork.layers.Init.depthFactor(config.initStdFactor(), i, layers.length, dim);
            layers[i].init(params, rng, config.initBaseStd(), factor);
        }
        norm.init(params);
        output.init(params, rng, std);
    }

    public ByteLmConfig config() {
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
     * Forward pass over {@code ids[B·T]}; returns the logits {@code [B·T, vocab]} in the model's own buffer (valid
     * until the next call). Keeps the activations for {@link #backward}.
     */
    public float[] forward(int[] ids, int B, int T) {
        if (T > config.maxSeqlen())
            throw new IllegalArgumentException("sequence length " + T + " exceeds max_seqlen " + config.maxSeqlen());
        int rows = B * T;
        this.ids = ids;
        this.B = B;
        this.T = T;
        if (embedded.length < rows * dim) {
            embedded = new float[rows * dim];
            normed = new float[rows * dim];
            logits = new float[rows * vocab];
            mask = new AttentionMask(rows);
        }
        mask.causal(ids, B, T, config.slidingWindow() == null ? 0 : config.slidingWindow(),
                config.eosSegments() ? config.eosId() : -1);
        long t = LayerProfile.start();
        tokEmbeddings.forward(params, ids, 0, rows, embedded);
        LayerProfile.stop(LayerProfile.Kind.EMBEDDING, false, t);
        float[] x = embedded;
        for (TransformerBlock layer : layers) x = layer.forward(params, x, B, T, mask);
        last = x;
        t = LayerProfile.start();
        norm.forward(params, x, normed, rows);
        LayerProfile.stop(LayerProfile.Kind.NORM, false, t);
        t = LayerProfile.start();
        output.forward(params, normed, logits, rows);
        LayerProfile.stop(LayerProfile.Kind.OUTPUT_AND_LOSS, false, t);
        return logits;
    }

    /**
     * Cross-entropy of the last forward's logits against {@code targets} (negative targets are ignored); when
     * {@code withGradient}, also prepares {@code ∂(mean loss)/∂logits} for {@link #backward}.
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
        if (withGradient && dLogits.length < rows * vocab) dLogits = new float[rows * vocab]; // training only
        long t = LayerProfile.start();
        double loss = CrossEntropyKernel.forwardBackward(logits, rows, vocab, targets, 0, losses, withGradient ? dLogits : null, scale);
        LayerProfile.stop(LayerProfile.Kind.OUTPUT_AND_LOSS, false, t);
        return loss;
    }

    @Override
    public ByteLm replica() {
        return withParameters(config, params);
    }

    /** Adds the gradient of the mean loss (from {@link #loss} with a gradient) into {@code grads}. */
    public void backward(ParameterBuffer grads) {
        int rows = B * T;
        if (dNormed.length < rows * dim) dNormed = new float[rows * dim];
        java.util.Arrays.fill(dNormed, 0, rows * dim, 0f);
        long t = LayerProfile.start();
        output.backward(params, grads, normed, dLogits, dNormed, rows, false);
        LayerProfile.stop(LayerProfile.Kind.OUTPUT_AND_LOSS, true, t);
        if (dHidden.length < rows * dim) dHidden = new float[rows * dim];
        java.util.Arrays.fill(dHidden, 0, rows * dim, 0f);
        t = LayerProfile.start();
        norm.backward(params, grads, last, dNormed, dHidden, rows);
        LayerProfile.stop(LayerProfile.Kind.NORM, true, t);
        float[] d = dHidden;
        for (int i = layers.length - 1; i >= 0; i--) d = layers[i].backward(params, grads, d);
        t = LayerProfile.start();
        tokEmbeddings.backward(grads, ids, 0, rows, d);
        LayerProfile.stop(LayerProfile.Kind.EMBEDDING, true, t);
    }

    /** Incremental decoding with KV caches; one instance per generated sequence. */
    public Session newSession(int capacity) {
        return new Session(Math.min(capacity, config.maxSeqlen()));
    }

    /** The state of one sequence being decoded: KV caches, the position and the start of the current segment. */
    public final class Session {
        private final KvCache[] caches;
        private final float[] x = new float[dim], y = new float[dim], n = new float[dim], out = new float[vocab];
        private final int[] one = new int[1];
        private int pos;
        private int segmentStart;

        private Session(int capacity) {
            caches = new KvCache[layers.length];
            int window = config.slidingWindow() == null ? 0 : config.slidingWindow();
            for (int i = 0; i < caches.length; i++)
                caches[i] = KvCache.sliding(capacity, window, config.kvHeads(), config.headDimension());
        }

        /** Positions consumed so far. */
        public int position() {
            return pos;
        }

        public int capacity() {
            return caches[0].capacity();
        }

        /** Feeds one id; returns the logits for the next id (the session's own buffer, valid until the next call). */
        public float[] step(int id) {
            if (pos >= capacity())
                throw new IllegalStateException("context full (" + capacity() + " positions); start a new session");
            one[0] = id;
            tokEmbeddings.forward(params, one, 0, 1, x);
            int window = config.slidingWindow() == null ? 0 : config.slidingWindow();
            int keyFrom = window > 0 ? Math.max(segmentStart, pos - window + 1) : segmentStart;
            float[] in = x, o = y;
            for (int i = 0; i < layers.length; i++) {
                layers[i].step(params, in, o, pos, keyFrom, caches[i]);
                float[] t = in; in = o; o = t;
            }
            norm.forward(params, in, n, 1);
            output.forward(params, n, out, 1);
            if (config.eosSegments() && id == config.eosId()) segmentStart = pos + 1;
            pos++;
            return out;
        }
    }
}

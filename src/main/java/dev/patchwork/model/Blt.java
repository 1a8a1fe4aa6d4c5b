package dev.patchwork.model;

import dev.patchwork.layers.LayerProfile;
import dev.patchwork.layers.AttentionMask;
import dev.patchwork.tensor.CrossEntropyKernel;
import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.tensor.ParameterLayout;
import dev.patchwork.tensor.RopeTable;

import java.util.Random;
import java.util.function.Function;

/**
 * The Byte Latent Transformer (spec §5; the reference's {@code ByteLatentTransformer.forward}): bytes → local encoder
 * (byte + hash n-gram embeddings, byte transformer, cross-attention pooling into patches) → latent transformer over
 * patches → local decoder (cross-attention from bytes to the patch before their target's, byte transformer) → logits
 * over the 260 ids. All parameters live in one {@link ParameterLayout} with the reference's tensor names (spec §9), so
 * a reference hub {@code model.safetensors} loads as is.
 *
 * <p>A forward pass takes {@code B} rows of {@code N} ids and the patch lengths of each row ({@link BltPatches}): the
 * encoder and decoder see bytes at positions 0…N−1 of their row, the global model patches at positions 0…P−1. The
 * local attention is causal with {@code local_attention_window_len} and stops at EOS; the global attention is causal
 * and (block_causal) stops at patches holding an EOS.
 */
public final class Blt {
    private final BltConfig config;
    private final ParameterLayout layout;
    private final ParameterBuffer params;
    private final LocalEncoder encoder;
    private final GlobalTransformer global;
    private final LocalDecoder decoder;

    // the last forward
    private BltPatches patches;
    private float[] logits, dLogits = new float[0];
    private int rows;
    private AttentionMask localMask = new AttentionMask(0), globalMask = new AttentionMask(0);

    private Blt(BltConfig config, Function<ParameterLayout, ParameterBuffer> storage) {
        this.config = config;
        ParameterLayout.Builder b = ParameterLayout.builder();
        RopeTable encoderRope = new RopeTable(config.encoderHeadDim(), config.maxEncoderSeqLength(), config.ropeTheta());
        RopeTable decoderRope = config.decoderHeadDim() == config.encoderHeadDim() ? encoderRope
                : new RopeTable(config.decoderHeadDim(), config.maxEncoderSeqLength(), config.ropeTheta());
        encoder = new LocalEncoder(b, config, encoderRope);
        global = new GlobalTransformer(b, config);
        decoder = new LocalDecoder(b, config, decoderRope);
        layout = b.build();
        params = storage.apply(layout);
    }

    /** The parameter layout a config gives (names, shapes, offsets), without allocating parameters. */
    public static ParameterLayout layoutOf(BltConfig config) {
        return new Blt(config, l -> null).layout;
    }

    /** A freshly initialised model (reference initialisation, spec §7, seeded by {@code config.seed()}). */
    public static Blt initialise(BltConfig config) {
        Blt m = new Blt(config, ParameterBuffer::allocate);
        Random rng = new Random(config.seed());
        m.encoder.init(m.params, rng);
        m.global.init(m.params, rng);
        m.decoder.init(m.params, rng);
        return m;
    }

    /** A model over existing parameters (e.g. loaded from a checkpoint); the buffer's layout must match. */
    public static Blt withParameters(BltConfig config, ParameterBuffer params) {
        return new Blt(config, ParameterBuffer.reusing(params, "BLT config"));
    }

    /** A model with zero parameters, to be filled by a checkpoint reader. */
    public static Blt uninitialised(BltConfig config) {
        return new Blt(config, ParameterBuffer::allocate);
    }

    /** The depth factor that divides output projections at initialisation ({@code init_std_factor}). */
    static double depthFactor(BltConfig c, int index, int layers, int dim) {
        return dev.patchwork.layers.Init.depthFactor(c.initStdFactor(), index, layers, dim);
    }

    public BltConfig config() {
        return config;
    }

    public ParameterLayout layout() {
        return layout;
    }

    public ParameterBuffer parameters() {
        return params;
    }

    public int vocab() {
        return config.vocabSize();
    }

    /** The patches of the last forward. */
    public BltPatches patches() {
        return patches;
    }

    /** Forward over one row of {@code N} ids with its patch lengths (summing to N or, usually, N+1). */
    public float[] forward(int[] ids, int N, int[] patchLengths) {
        return forward(ids, BltPatches.of(ids, N, patchLengths, config.eosId()));
    }

    /** Forward over {@code B} rows of {@code N} ids, each row with its own patch lengths. */
    public float[] forward(int[] ids, int B, int N, int[][] patchLengths) {
        return forward(ids, BltPatches.of(ids, B, N, patchLengths, config.eosId()));
    }

    /**
     * Forward pass; returns the logits {@code [B·N, vocab]} in the model's own buffer (valid until the next call).
     * Keeps the activations for {@link #backward}.
     */
    public float[] forward(int[] ids, BltPatches patches) {
        int B = patches.rows(), N = patches.bytes(), P = patches.patches();
        if (N > config.maxEncoderSeqLength())
            throw new IllegalArgumentException("sequence length " + N + " exceeds max_encoder_seq_length " + config.maxEncoderSeqLength());
        for (int i = 0; i < B * N; i++)
            if (ids[i] < 0 || ids[i] >= config.vocabSize())
                throw new IllegalArgumentException("id " + ids[i] + " at position " + i + " is outside the vocabulary [0, "
                        + config.vocabSize() + ")");
        this.patches = patches;
        rows = B * N;
        if (localMask.from.length < rows) localMask = new AttentionMask(rows);
        if (globalMask.from.length < B * P) globalMask = new AttentionMask(B * P);
        localMask.causal(ids, B, N, config.localWindow(), config.eosId());
        globalMask.causal(patches.globalTokensView(), B, P, 0, config.globalEosSegments() ? config.eosId() : -1);

        float[] bytes = encoder.forward(params, ids, patches, localMask);
        float[] g = global.forward(params, encoder.patches(), B, P, globalMask);
        logits = decoder.forward(params, bytes, g, patches, localMask);
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
        return crossEntropy(targets, losses, withGradient, CrossEntropyKernel.counted(targets, rows));
    }

    /**
     * The summed loss as {@link #loss}, preparing the gradient of that sum divided by {@code meanOver}: a training
     * replica's part of its batch's mean ({@code dev.patchwork.train.BltReplicas}).
     */
    public double loss(int[] targets, long meanOver) {
        return crossEntropy(targets, null, true, meanOver);
    }

    private double crossEntropy(int[] targets, float[] losses, boolean withGradient, long meanOver) {
        int vocab = config.vocabSize();
        if (withGradient && dLogits.length < rows * vocab) dLogits = new float[rows * vocab];
        float scale = meanOver == 0 ? 0f : 1f / meanOver;
        long t = LayerProfile.start();
        double loss = CrossEntropyKernel.forwardBackward(logits, rows, vocab, targets, 0, losses, withGradient ? dLogits : null, scale);
        LayerProfile.stop(LayerProfile.Kind.OUTPUT_AND_LOSS, false, t);
        return loss;
    }

    /** Adds the gradient of the mean loss (from {@link #loss} with a gradient) into {@code grads}. */
    public void backward(ParameterBuffer grads) {
        backwardFromLogits(grads, dLogits);
    }

    /** A model over the same parameters with activations of its own, to train on a share of a batch on another thread. */
    public Blt replica() {
        return withParameters(config, params);
    }

    /** Adds the gradient for a given {@code ∂L/∂logits [B·N, vocab]} of the last forward into {@code grads}. */
    public void backwardFromLogits(ParameterBuffer grads, float[] dLogits) {
        decoder.backward(params, grads, dLogits);
        float[] dPatches = global.backward(params, grads, decoder.dGlobal());
        encoder.backward(params, grads, decoder.dBytes(), dPatches);
    }

    /**
     * Incremental decoding with KV caches (spec §8) for a sequence of at most {@code capacity} ids; one instance per
     * sequence. Which positions end patches is the caller's decision (the entropy model and the patcher's rule).
     */
    public Session newSession(int capacity) {
        if (capacity < 1) throw new IllegalArgumentException("session capacity must be >= 1 id, got " + capacity);
        return new Session(capacity);
    }

    /**
     * The state of one sequence being decoded. Each {@link #step} feeds one id: the encoder's byte layers run on it
     * (KV caches, sliding window, EOS segments); if the id ends its patch, that patch is pooled, cross-attended and
     * fed to the global model, which therefore runs once per patch, with its own KV cache; the decoder's byte layers
     * then run on the id, cross-attending the last patch closed so far, which is the patch the full forward pass
     * gives this position ({@code g[pid(t+1) − 1]}, spec §5.6: the patch just before the one holding the next id).
     * Fed the same ids with the same patch ends, the logits equal those of {@link #forward} at each position with
     * the patches of the prefix plus the virtual next byte, up to float rounding.
     */
    public final class Session {
        private final LocalEncoder.Cache enc;
        private final GlobalTransformer.Cache glob;
        private final LocalDecoder.Cache dec;
        private final int capacity;
        private int[] ids = new int[64];
        private int pos;
        private long encoderNanos, globalNanos, decoderNanos;

        private Session(int capacity) {
            this.capacity = Math.min(capacity, config.maxEncoderSeqLength());
            enc = encoder.newCache(this.capacity);
            glob = global.newCache(this.capacity);
            dec = decoder.newCache(this.capacity);
        }

        /** Ids fed so far. */
        public int position() {
            return pos;
        }

        /** Ids the session can take: the capacity asked for, at most {@code max_encoder_seq_length}. */
        public int capacity() {
            return capacity;
        }

        /** Patches closed so far, i.e. steps of the global model. */
        public int patches() {
            return glob.position();
        }

        /** Time spent in the local encoder (byte layers, pooling, cross-attention), in nanoseconds. */
        public long encoderNanos() {
            return encoderNanos;
        }

        public long globalNanos() {
            return globalNanos;
        }

        public long decoderNanos() {
            return decoderNanos;
        }

        /**
         * Feeds the id at the next position.
         *
         * @param endsPatch whether this id is the last of its patch (the next position starts a new one); the first id
         *                  must be, since patch 0 is [BOS] alone
         * @param logits    whether to compute the logits (the prompt's ids before the last need only their caches)
         * @return the logits for the next id {@code [vocab]} (valid until the next step), or null unless asked
         */
        public float[] step(int id, boolean endsPatch, boolean logits) {
            if (pos >= capacity) throw new IllegalStateException("context full (" + capacity + " ids); start a new session");
            if (id < 0 || id >= config.vocabSize())
                throw new IllegalArgumentException("id " + id + " is outside the vocabulary [0, " + config.vocabSize() + ")");
            if (pos == 0 && !endsPatch)
                throw new IllegalArgumentException("the first id must end its patch: patch 0 holds exactly one id (the BOS)");
            if (pos == ids.length) ids = java.util.Arrays.copyOf(ids, 2 * ids.length);
            ids[pos] = id;
            long t0 = System.nanoTime();
            float[] h = encoder.step(params, enc, ids, pos);
            boolean eos = enc.openHoldsEos();
            float[] patch = endsPatch ? encoder.closePatch(params, enc) : null;
            long t1 = System.nanoTime();
            encoderNanos += t1 - t0;
            if (endsPatch) {
                float[] g = global.step(params, glob, patch, eos);
                long t2 = System.nanoTime();
                globalNanos += t2 - t1;
                t1 = t2;
                decoder.setPatch(params, dec, g);
            }
            float[] out = decoder.step(params, dec, h, id, pos, logits);
            decoderNanos += System.nanoTime() - t1;
            pos++;
            return out;
        }
    }

    // ---- intermediates of the last forward, for tests and debugging ----

    LocalEncoder encoder() {
        return encoder;
    }

    GlobalTransformer global() {
        return global;
    }

    LocalDecoder decoder() {
        return decoder;
    }
}

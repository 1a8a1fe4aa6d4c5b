package dev.patchwork.patch;

import dev.patchwork.io.WeightStorage;
import dev.patchwork.data.ByteTokens;
import dev.patchwork.model.ByteLm;
import dev.patchwork.model.ByteLmCheckpoint;
import dev.patchwork.model.ByteLmConfig;
import dev.patchwork.tensor.Parallel;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A byte LM used to measure, at every position, how uncertain it is about the next byte: {@code H[t] = −Σ p ln p}
 * (nats) of the logits at position t, i.e. the uncertainty about byte t+1 (spec §4).
 *
 * <p>Chunking follows the reference's {@code calculate_entropies}: a document is cut into chunks of
 * {@code min(8192, max_seqlen)} ids and each chunk runs independently (positions restart at 0, no context from the
 * previous chunk). Unlike the reference, documents are never concatenated before chunking, so entropies never leak
 * from one document into the next (reference issue #123).
 *
 * <p>Speed: chunks are scored many at a time, {@code B} rows of {@code T} ids per forward pass. Chunks are sorted by
 * length and a batch only takes chunks at least 7/8 as long as its longest, which is {@code T}; shorter ones are
 * padded at their end with BOE (id 0). Attention is causal, so padding after a position cannot change its output,
 * and the padded outputs are dropped. The batches in flight hold at most {@link #maxBatchRows()} ids together (a
 * single chunk always fits), which bounds memory: the model keeps its activations for every row of a forward pass.
 *
 * <p>When the row budget holds a chunk per thread, each thread runs whole forward passes of its own (on a model
 * sharing the parameters) instead of all threads splitting every kernel: one hand-off per batch instead of one per
 * kernel, which measured about 15% more tokens per CPU-second, and a thread descheduled on a busy machine delays
 * only its own batch. Results do not depend on which thread ran a batch.
 *
 * <p>Not thread-safe: the model's activation buffers are reused by every call.
 */
public final class EntropyModel {
    /** The reference's chunk length. */
    public static final int REFERENCE_CHUNK = 8192;
    /** Memory allowed for the activations of one forward pass, unless one chunk alone needs more. */
    public static final long DEFAULT_BATCH_BYTES = 256L << 20;
    /**
     * Rows past which a bigger batch brings no more speed, only more memory: measured with the demo's model (dim 128,
     * 4 layers), 1,024 to 16,384 rows per pass ran at the same speed.
     */
    static final int USEFUL_BATCH_ROWS = 4096;
    /** A chunk joins a batch only if padding it to the batch's length wastes at most 1/8 of its row. */
    private static final int PADDING_DIVISOR = 8;

    /** Chunks to score independently: chunk {@code i} holds {@code length(i)} ids. */
    interface Chunks {
        int count();

        int length(int i);

        /** Copies the ids of chunk {@code i} to {@code dst[offset ...]}. */
        void read(int i, int[] dst, int offset);

        /** Receives the entropies of chunk {@code i}: {@code entropies[offset ... offset + length(i))}. */
        void write(int i, float[] entropies, int offset);
    }

    /** Called after every forward pass with the number of ids it scored; may throw to abandon the work. */
    @FunctionalInterface
    interface BatchListener {
        BatchListener NONE = ids -> {};

        void scored(int ids);
    }

    private final ByteLm model;
    private final int chunk;
    private final int maxBatchRows;
    private final Worker[] workers;
    private long scored;

    public EntropyModel(ByteLm model) {
        this(model, defaultBatchRows(model.config()));
    }

    /**
     * @param maxBatchRows bound on the ids ({@code B·T}) of one forward pass; one chunk always runs whole, so values
     *                     below {@link #chunkLength()} mean one chunk per pass
     */
    public EntropyModel(ByteLm model, int maxBatchRows) {
        if (maxBatchRows < 1) throw new IllegalArgumentException("maxBatchRows must be >= 1, got " + maxBatchRows);
        this.model = model;
        this.chunk = Math.min(REFERENCE_CHUNK, model.config().maxSeqlen());
        this.maxBatchRows = maxBatchRows;
        // One worker per thread when each can hold a chunk within the shared row budget; else one worker whose
        // kernels use all threads (a single long chunk per pass).
        int threads = Parallel.threads();
        workers = new Worker[threads > 1 && maxBatchRows / threads >= chunk ? threads : 1];
        workers[0] = new Worker(model);
        for (int w = 1; w < workers.length; w++)
            workers[w] = new Worker(ByteLm.withParameters(model.config(), model.parameters()));
    }

    /** Loads any byte LM checkpoint: a Patchwork run directory or the reference's hub entropy model. */
    public static EntropyModel load(Path dir) {
        return new EntropyModel(ByteLmCheckpoint.load(dir));
    }

    /** {@link #load(Path)} with the weights stored as {@code storage} says (mapped ones stay in the file). */
    public static EntropyModel load(Path dir, WeightStorage storage) {
        return new EntropyModel(ByteLmCheckpoint.load(dir, storage));
    }

    /**
     * Rows per forward pass: {@link #USEFUL_BATCH_ROWS}, or fewer if their activations would exceed
     * {@link #DEFAULT_BATCH_BYTES} (or a quarter of the heap), but never less than one chunk.
     */
    static int defaultBatchRows(ByteLmConfig c) {
        long budget = Math.min(DEFAULT_BATCH_BYTES, Runtime.getRuntime().maxMemory() / 4);
        long rows = budget / activationBytesPerRow(c);
        int chunk = Math.min(REFERENCE_CHUNK, c.maxSeqlen());
        return (int) Math.max(chunk, Math.min(USEFUL_BATCH_ROWS, rows));
    }

    /**
     * Bytes the model keeps per row of a forward pass (per layer: its input, two norms, the residual, the attention
     * and feed-forward intermediates and the buffers its backward pass reuses; then logits and their gradient), after
     * {@code ByteLmTrainer.checkFits}' estimate.
     */
    static long activationBytesPerRow(ByteLmConfig c) {
        long perLayer = 14L * c.dim() + 6L * c.ffnHidden() + 2L * c.heads();
        return 4 * (perLayer * c.nLayers() + 4L * c.dim() + 2L * c.vocabSize());
    }

    public ByteLm model() {
        return model;
    }

    /** Length of the independent chunks a document is cut into. */
    public int chunkLength() {
        return chunk;
    }

    /** Bound on the ids of one forward pass (one chunk always runs whole, even if longer). */
    public int maxBatchRows() {
        return maxBatchRows;
    }

    /** Ids run through the model so far, padding excluded (lets callers and tests see whether work was redone). */
    public long idsScored() {
        return scored;
    }

    /**
     * Entropy (nats) of one row of logits {@code [vocab]}, computed exactly as {@link #entropies} computes each
     * position's, for callers that run the model one position at a time (incremental generation).
     */
    public static float entropy(float[] logits, int vocab) {
        return LogitEntropy.entropy(logits, 0, vocab);
    }

    /** Entropies of one document ({@code ids}, BOS first): one value per id. */
    public float[] entropies(int[] ids) {
        return entropies(List.of(ids)).get(0);
    }

    /** Entropies of several documents, each computed on its own. */
    public List<float[]> entropies(List<int[]> documents) {
        List<float[]> out = new ArrayList<>(documents.size());
        // chunk i covers documents.get(doc[i])[start[i] ... start[i] + length[i])
        int n = 0;
        for (int[] ids : documents) {
            out.add(new float[ids.length]);
            n += (ids.length + chunk - 1) / chunk;
        }
        int[] doc = new int[n], start = new int[n], length = new int[n];
        int c = 0;
        for (int d = 0; d < documents.size(); d++) {
            int len = documents.get(d).length;
            for (int s = 0; s < len; s += chunk, c++) {
                doc[c] = d;
                start[c] = s;
                length[c] = Math.min(chunk, len - s);
            }
        }
        score(new Chunks() {
            @Override
            public int count() {
                return doc.length;
            }

            @Override
            public int length(int i) {
                return length[i];
            }

            @Override
            public void read(int i, int[] dst, int offset) {
                System.arraycopy(documents.get(doc[i]), start[i], dst, offset, length[i]);
            }

            @Override
            public void write(int i, float[] entropies, int offset) {
                System.arraycopy(entropies, offset, out.get(doc[i]), start[i], length[i]);
            }
        }, BatchListener.NONE);
        return out;
    }

    /**
     * Scores every chunk, longest first, in batches of similar lengths. With several workers, consecutive batches run
     * side by side, one per worker; {@code chunks} is then read and written from several threads (different chunks).
     */
    void score(Chunks chunks, BatchListener listener) {
        int n = chunks.count();
        int[] order = longestFirst(chunks);
        int rowsPerWorker = maxBatchRows / workers.length;
        int[] from = new int[workers.length], to = new int[workers.length], lengths = new int[workers.length];
        int[] ids = new int[workers.length];
        for (int i = 0; i < n; ) {
            int batches = 0;
            for (; batches < workers.length && i < n; batches++) {
                int T = chunks.length(order[i]);
                if (T > chunk)
                    throw new IllegalArgumentException("chunk of " + T + " ids exceeds the chunk length " + chunk);
                int shortest = T - T / PADDING_DIVISOR;
                int end = i + 1;
                while (end < n && (long) (end - i + 1) * T <= rowsPerWorker && chunks.length(order[end]) >= shortest)
                    end++;
                from[batches] = i;
                to[batches] = end;
                lengths[batches] = T;
                i = end;
            }
            if (batches == 1) { // alone, the worker's kernels use the whole thread team
                ids[0] = workers[0].score(chunks, order, from[0], to[0], lengths[0]);
            } else { // side by side, each worker's kernels run on its own thread (nested parallel calls are serial)
                Parallel.forChunks(batches, batches,
                        (w, s, e) -> ids[w] = workers[w].score(chunks, order, from[w], to[w], lengths[w]));
            }
            int total = 0;
            for (int w = 0; w < batches; w++) total += ids[w];
            scored += total;
            listener.scored(total);
        }
    }

    /** Runs forward passes with its own activations (the parameters are shared with the other workers). */
    private static final class Worker {
        private final ByteLm lm;
        private int[] batchIds = new int[0];
        private float[] batchEntropies = new float[0];

        Worker(ByteLm lm) {
            this.lm = lm;
        }

        /** Runs chunks {@code order[from ... to)} as one batch of rows of {@code T} ids; returns the ids scored. */
        int score(Chunks chunks, int[] order, int from, int to, int T) {
            int B = to - from, rows = B * T;
            if (batchIds.length < rows) {
                batchIds = new int[rows];
                batchEntropies = new float[rows];
            }
            int[] lengths = new int[B];
            int ids = 0;
            for (int b = 0; b < B; b++) {
                lengths[b] = chunks.length(order[from + b]);
                chunks.read(order[from + b], batchIds, b * T);
                Arrays.fill(batchIds, b * T + lengths[b], (b + 1) * T, ByteTokens.BOE);
                ids += lengths[b];
            }
            float[] logits = lm.forward(batchIds, B, T);
            LogitEntropy.rows(logits, lm.vocab(), B, T, lengths, batchEntropies);
            for (int b = 0; b < B; b++) chunks.write(order[from + b], batchEntropies, b * T);
            return ids;
        }
    }

    /** Chunk indices by decreasing length, ties by index (so batches, and hence results, are deterministic). */
    private static int[] longestFirst(Chunks chunks) {
        int n = chunks.count();
        long[] keys = new long[n];
        for (int i = 0; i < n; i++) keys[i] = ((long) (Integer.MAX_VALUE - chunks.length(i)) << 32) | i;
        Arrays.sort(keys);
        int[] order = new int[n];
        for (int i = 0; i < n; i++) order[i] = (int) keys[i];
        return order;
    }
}

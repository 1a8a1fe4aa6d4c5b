package dev.patchwork.data;

import java.util.SplittableRandom;

/**
 * Random training windows from the training part of a {@link CorpusSplit}, like nanoGPT's {@code get_batch}: window
 * {@code b} starts at a uniformly drawn position {@code o} in {@code [0, trainEnd - seqLen)}; its inputs are tokens
 * {@code [o, o + seqLen)} and its targets the same shifted by one.
 *
 * <p>Each batch is a pure function of {@code (seed, step)}: its generator is seeded from both, not carried over from
 * the previous batch. Resuming a run bit-identically therefore needs only the step number ({@link #seek}), and any
 * step can be replayed on its own. Thread-safe for {@link #batch}; {@link #nextBatch} advances a plain counter.
 */
public final class Batcher {
    private static final long GOLDEN_GAMMA = 0x9E3779B97F4A7C15L;

    private final ByteCorpus corpus;
    private final CorpusSplit split;
    private final long seed;
    private long step;

    public Batcher(ByteCorpus corpus, CorpusSplit split, long seed) {
        if (split.tokens() != corpus.tokens())
            throw new IllegalArgumentException("the split is for " + split.tokens() + " tokens but the corpus has "
                    + corpus.tokens() + ": make it with corpus.split(fraction)");
        this.corpus = corpus;
        this.split = split;
        this.seed = seed;
    }

    public long seed() {
        return seed;
    }

    /** The step of the batch the next {@link #nextBatch} call gives: save it with a checkpoint. */
    public long step() {
        return step;
    }

    /** Continues from {@code step} (restoring a checkpoint): the following batches are those of an unbroken run. */
    public void seek(long step) {
        if (step < 0) throw new IllegalArgumentException("step must be >= 0, got " + step);
        this.step = step;
    }

    /** Fills the batch of the current step and advances to the next step. */
    public void nextBatch(int batchSize, int seqLen, int[] x, int[] y) {
        batch(step, batchSize, seqLen, x, y);
        step++;
    }

    /**
     * Fills {@code x[b*seqLen + t]} with the inputs and {@code y} with the targets (the next tokens) of the
     * {@code batchSize} windows of {@code step}.
     *
     * @throws DataException if the training split is shorter than {@code seqLen + 1} tokens
     */
    public void batch(long step, int batchSize, int seqLen, int[] x, int[] y) {
        checkBatch(batchSize, seqLen, x, y);
        long[] starts = new long[batchSize];
        windowStarts(step, batchSize, seqLen, starts);
        for (int b = 0; b < batchSize; b++) fillWindow(corpus, starts[b], seqLen, x, y, b * seqLen);
    }

    /** The start positions of the windows of {@code step} (what {@link #batch} reads), in {@code starts[0, batchSize)}. */
    public void windowStarts(long step, int batchSize, int seqLen, long[] starts) {
        if (step < 0) throw new IllegalArgumentException("step must be >= 0, got " + step);
        if (seqLen < 1) throw new IllegalArgumentException("sequence length must be >= 1, got " + seqLen);
        if (batchSize < 1 || batchSize > starts.length)
            throw new IllegalArgumentException("batch size " + batchSize + " must be in [1, " + starts.length + "]");
        long choices = split.trainTokens() - seqLen; // o + seqLen is the last target, so o < trainEnd - seqLen
        if (choices < 1)
            throw new DataException("corpus " + corpus.description() + " is too small for windows of " + seqLen
                    + " tokens: its training split has " + split.trainTokens() + " tokens and a window needs "
                    + (seqLen + 1L) + "; use a shorter sequence length, a smaller eval fraction or more data");
        SplittableRandom random = new SplittableRandom(stepSeed(seed, step));
        for (int b = 0; b < batchSize; b++) starts[b] = random.nextLong(choices);
    }

    /**
     * The seed of one step's generator. Seeding with {@code seed + step * gamma} would replay the previous step's
     * stream shifted by one draw (that is how SplittableRandom advances), so the step is mixed first.
     */
    public static long stepSeed(long seed, long step) {
        return mix64(seed * GOLDEN_GAMMA + mix64(step));
    }

    /** SplitMix64's finaliser (Stafford's variant 13): a bijection that scrambles every bit. */
    private static long mix64(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** Inputs {@code [start, start + seqLen)} into {@code x[offset ...]} and the next tokens into {@code y[offset ...]}. */
    static void fillWindow(ByteCorpus corpus, long start, int seqLen, int[] x, int[] y, int offset) {
        corpus.copy(start, x, offset, seqLen);
        System.arraycopy(x, offset + 1, y, offset, seqLen - 1);
        y[offset + seqLen - 1] = corpus.id(start + seqLen);
    }

    /** Checks that {@code x} and {@code y} hold {@code batchSize * seqLen} ids. */
    static void checkBatch(int batchSize, int seqLen, int[] x, int[] y) {
        if (batchSize < 1) throw new IllegalArgumentException("batch size must be >= 1, got " + batchSize);
        if (seqLen < 1) throw new IllegalArgumentException("sequence length must be >= 1, got " + seqLen);
        long n = (long) batchSize * seqLen;
        if (n > x.length || n > y.length)
            throw new IllegalArgumentException("x and y must hold batch size * sequence length = " + n + " ids, got "
                    + x.length + " and " + y.length);
    }
}

package dev.patchwork.data;

/**
 * The held-out part of a {@link CorpusSplit} as consecutive, non-overlapping windows of {@code seqLen} inputs (and
 * their next-token targets), in order: window {@code k} starts at {@code trainEnd + k * seqLen}. Every held-out token
 * is a target exactly once, except the last {@code (evalTokens - 1) % seqLen} ones, which do not fill a window.
 * Deterministic; optionally limited to the first {@code maxWindows} windows for a quick estimate.
 */
public final class EvalWindows {
    private final ByteCorpus corpus;
    private final long start;
    private final int seqLen;
    private final long count;
    private long next;

    /**
     * @param maxWindows at most this many windows; {@code <= 0} for all of them
     * @throws DataException if the held-out split is shorter than one window ({@code seqLen + 1} tokens)
     */
    public EvalWindows(ByteCorpus corpus, CorpusSplit split, int seqLen, long maxWindows) {
        if (split.tokens() != corpus.tokens())
            throw new IllegalArgumentException("the split is for " + split.tokens() + " tokens but the corpus has "
                    + corpus.tokens() + ": make it with corpus.split(fraction)");
        if (seqLen < 1) throw new IllegalArgumentException("sequence length must be >= 1, got " + seqLen);
        long all = split.evalTokens() < 1 ? 0 : (split.evalTokens() - 1) / seqLen;
        if (all == 0)
            throw new DataException("corpus " + corpus.description() + " has " + split.evalTokens()
                    + " held-out tokens, too few for one evaluation window of " + seqLen + " tokens (needs "
                    + (seqLen + 1L) + "); raise the eval fraction, shorten the sequence length or add data");
        this.corpus = corpus;
        this.start = split.trainEnd();
        this.seqLen = seqLen;
        this.count = maxWindows > 0 ? Math.min(all, maxWindows) : all;
    }

    /** Number of windows. */
    public long count() {
        return count;
    }

    public int seqLen() {
        return seqLen;
    }

    /** Token position where window {@code k} starts. */
    public long windowStart(long k) {
        if (k < 0 || k >= count) throw new IndexOutOfBoundsException("window " + k + " outside [0, " + count + ")");
        return start + k * seqLen;
    }

    /** Fills {@code x[offset, offset + seqLen)} with the inputs of window {@code k} and {@code y} with its targets. */
    public void window(long k, int[] x, int[] y, int offset) {
        long at = windowStart(k);
        if (offset < 0 || offset > x.length - seqLen || offset > y.length - seqLen)
            throw new IndexOutOfBoundsException("a window of " + seqLen + " at offset " + offset
                    + " does not fit arrays of " + x.length + " and " + y.length);
        Batcher.fillWindow(corpus, at, seqLen, x, y, offset);
    }

    /**
     * Fills up to {@code batchSize} next windows (row {@code b} at {@code b * seqLen}) and returns how many; 0 once
     * every window has been given. Rows past the returned count are left untouched.
     */
    public int nextBatch(int batchSize, int[] x, int[] y) {
        Batcher.checkBatch(batchSize, seqLen, x, y);
        int n = (int) Math.min(batchSize, count - next);
        for (int b = 0; b < n; b++) window(next + b, x, y, b * seqLen);
        next += n;
        return n;
    }

    /** Starts again from the first window. */
    public void reset() {
        next = 0;
    }
}

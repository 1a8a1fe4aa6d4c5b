package dev.patchwork.data;

/**
 * A deterministic train/held-out split of a token stream, like nanoGPT's: tokens {@code [0, trainEnd)} train, the
 * rest {@code [trainEnd, tokens)} are held out for evaluation. The cut is at a token position, not a document
 * boundary, so a single-document corpus splits too.
 *
 * @param tokens   length of the whole stream
 * @param trainEnd first held-out position
 */
public record CorpusSplit(long tokens, long trainEnd) {
    /** nanoGPT's default: the last 10% is validation. */
    public static final double DEFAULT_EVAL_FRACTION = 0.10;

    public CorpusSplit {
        if (tokens < 0 || trainEnd < 0 || trainEnd > tokens)
            throw new IllegalArgumentException("split point " + trainEnd + " outside [0, " + tokens + "]");
    }

    /** The last {@code evalFraction} (rounded down to whole tokens) of {@code tokens} held out. */
    public static CorpusSplit of(long tokens, double evalFraction) {
        if (!(evalFraction >= 0 && evalFraction < 1))
            throw new DataException("eval fraction must be in [0, 1), got " + evalFraction + "; 0.1 holds out the last 10%");
        return new CorpusSplit(tokens, tokens - (long) Math.floor(tokens * evalFraction));
    }

    /** Number of training tokens: positions {@code [0, trainEnd)}. */
    public long trainTokens() {
        return trainEnd;
    }

    /** Number of held-out tokens: positions {@code [trainEnd, tokens)}. */
    public long evalTokens() {
        return tokens - trainEnd;
    }
}

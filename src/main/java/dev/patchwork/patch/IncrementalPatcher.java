package dev.patchwork.patch;

/**
 * A {@link Patcher}'s rule applied one position at a time, for generation: after position t's id (and entropy) is
 * known, says whether t ends its patch, i.e. whether t+1 starts the next one. Fed positions 0, 1, 2, … in order, the
 * patches it gives for the first N ids plus the virtual next byte are exactly {@code patcher.patch(ids[0..N),
 * entropies[0..N), includeNextToken=true)} for every N: the closed patches, then an open one holding the bytes since
 * the last end and the virtual byte (possibly that alone).
 *
 * <p>That works because these rules decide a start at t+1 from positions t and t−1 only, so growing the sequence
 * never moves an earlier boundary: global threshold (t+1 starts iff {@code H[t] > θ}, t ≥ 1), relative
 * ({@code H[t] − H[t−1] > θ}, t ≥ 2, and 2 always), global+relative (both, t ≥ 3; 2 always, 3 never), space, byte and
 * static. {@code max_patch_length} splits a run from its start into pieces of that length, so a piece also ends when
 * it reaches the limit. Two rules are refused: top-k ranks the entropies of the whole sequence (a later byte can
 * move an earlier boundary), and BPE ignores a delimiter in the last position until another id follows it.
 */
public final class IncrementalPatcher {
    private final Patcher rule;
    /** Positions in the open patch (the current piece of a run, with a length limit). */
    private int openLength;
    private int next;

    private IncrementalPatcher(Patcher rule) {
        this.rule = rule;
    }

    /** The incremental form of {@code rule}; refuses the rules whose earlier boundaries depend on later ids. */
    public static IncrementalPatcher of(Patcher rule) {
        switch (rule) {
            case TopKPatcher t -> throw new IllegalArgumentException("top-k patching (entropy mode without a threshold) "
                    + "ranks the entropies of the whole sequence, so a new byte can move earlier boundaries: incremental "
                    + "generation cannot follow it; give a threshold, or generate without the cache (--no-cache)");
            case BpeDelimiterPatcher b -> throw new IllegalArgumentException("bpe patching opens a patch after a delimiter "
                    + "only once another id follows it: incremental generation cannot follow it; use --no-cache");
            default -> {}
        }
        return new IncrementalPatcher(rule);
    }

    public Patcher rule() {
        return rule;
    }

    /** Starts a new sequence. */
    public void reset() {
        openLength = 0;
        next = 0;
    }

    /** Positions seen so far. */
    public int position() {
        return next;
    }

    /** Positions in the open patch (the bytes since the last end; the virtual next byte not counted). */
    public int openLength() {
        return openLength;
    }

    /**
     * Whether position {@code t} ends its patch. {@code ids} and {@code entropies} hold at least positions
     * {@code 0 … t} (entropies may be null when the rule reads none); {@code t} must be the next position.
     */
    public boolean endsPatch(int[] ids, float[] entropies, int t) {
        if (t != next) throw new IllegalArgumentException("positions must come in order: expected " + next + ", got " + t);
        if (rule.usesEntropies() && !Float.isFinite(entropies[t]))
            throw new IllegalArgumentException("entropy at position " + t + " is " + entropies[t] + ": entropies must be finite numbers");
        next++;
        int limit = rule.maxPatchLength();
        boolean ends = ruleEnds(ids, entropies, t) || (limit != Patcher.NO_MAX_LENGTH && openLength + 1 == limit);
        openLength = ends ? 0 : openLength + 1;
        return ends;
    }

    /** Whether the rule itself (before length splitting) starts a patch at t+1. */
    private boolean ruleEnds(int[] ids, float[] h, int t) {
        return switch (rule) {
            case GlobalThresholdPatcher g -> t == 0 || h[t] > g.threshold();
            case RelativeThresholdPatcher r -> t <= 1 || h[t] - h[t - 1] > r.threshold();
            case GlobalRelativePatcher g -> t <= 1 || (t >= 3 && h[t] - h[t - 1] > g.thresholdAdd() && h[t] > g.threshold());
            case SpacePatcher s -> t == 0 || ids[t] < 4 || (SpacePatcher.spaceLike(ids[t]) && !SpacePatcher.spaceLike(ids[t - 1]));
            case BytePatcher b -> true;
            case StaticPatcher s -> (t + 1) % s.patchSize() == 0;
            case TopKPatcher t2 -> throw new AssertionError("refused by of()");
            case BpeDelimiterPatcher b -> throw new AssertionError("refused by of()");
        };
    }
}

package dev.patchwork.patch;

/**
 * Cuts a sequence of ids into patches, exactly as the reference's {@code Patcher.patch} ({@code bytelatent/data/
 * patcher.py}), quirks included (spec §4). One record per rule; {@link PatcherConfig} builds them from the reference's
 * {@code PatcherArgs} names.
 *
 * <p>Every patcher first finds the patch <em>starts</em> (sorted, distinct positions in {@code [0, total)}, where
 * {@code total = N + 1} with the virtual next byte and {@code N} without), then turns them into lengths
 * ({@code patch_lengths_from_start_ids}) and finally splits lengths above {@code max_patch_length}
 * ({@code split_large_numbers}, which the reference applies after every mode).
 *
 * <p>Generalisations where the reference fails (an assertion or a torch error) instead of returning patches: an empty
 * sequence gives no patches ({@code []}, or {@code [1]} for the virtual byte alone), a start the reference would
 * produce twice is kept once, and a start at or beyond {@code total} is dropped, which is what the reference's
 * trimming of trailing zero lengths does.
 */
public sealed interface Patcher permits GlobalThresholdPatcher, RelativeThresholdPatcher, GlobalRelativePatcher,
        TopKPatcher, SpacePatcher, StaticPatcher, BytePatcher, BpeDelimiterPatcher {
    /** {@code max_patch_length} value meaning "no limit" (the reference's {@code None}). */
    int NO_MAX_LENGTH = 0;

    /** Longest patch allowed; longer ones are split ({@link #NO_MAX_LENGTH}: no limit). */
    int maxPatchLength();

    /** Whether the rule reads entropies (then one finite entropy per id is required). */
    default boolean usesEntropies() {
        return switch (this) {
            case GlobalThresholdPatcher p -> true;
            case RelativeThresholdPatcher p -> true;
            case GlobalRelativePatcher p -> true;
            case TopKPatcher p -> true;
            case SpacePatcher p -> false;
            case StaticPatcher p -> false;
            case BytePatcher p -> false;
            case BpeDelimiterPatcher p -> false;
        };
    }

    /** Whether the rule reads the id values (space and BPE patching); the others only need the sequence length. */
    default boolean readsIds() {
        return this instanceof SpacePatcher || this instanceof BpeDelimiterPatcher;
    }

    /** Short description for logs and the inspector, e.g. {@code entropy θ=1.3354 (global)}. */
    String describe();

    /**
     * Sorted, distinct patch starts in {@code [0, total)} before {@code max_patch_length} splitting.
     *
     * @param ids       the sequence (BOS first); may be null when {@link #readsIds()} is false
     * @param entropies one entropy per id (nats, H[t] = uncertainty about id t+1); null when {@link #usesEntropies()} is false
     * @param n         the sequence length N
     * @param total     N + 1 with the virtual next byte, else N
     */
    int[] starts(int[] ids, float[] entropies, int n, int total);

    /**
     * Patches a sequence. With {@code includeNextToken} (inference) the lengths cover the N ids plus the virtual next
     * byte, so they sum to N+1 and the last patch may hold the virtual byte alone; without it (data preparation,
     * training) they sum to N.
     *
     * @param ids       the ids, BOS first; may be null when {@link #readsIds()} is false (N is then the entropy count)
     * @param entropies one entropy per id, or null when {@link #usesEntropies()} is false
     */
    default Patches patch(int[] ids, float[] entropies, boolean includeNextToken) {
        int n = PatchInput.length(this, ids, entropies);
        int total = n + (includeNextToken ? 1 : 0);
        return PatchInput.lengths(starts(ids, entropies, n, total), total, maxPatchLength());
    }

    /** {@link #patch} for rules that need only entropies: N is the number of entropies. */
    default Patches patchEntropies(float[] entropies, boolean includeNextToken) {
        return patch(null, entropies, includeNextToken);
    }
}

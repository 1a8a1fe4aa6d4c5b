package dev.patchwork.patch;

/**
 * Entropy patching with a global threshold, the released BLT models' rule ({@code find_entropy_patch_start_ids} with
 * {@code entropies > threshold}): positions 0 ([BOS] alone) and 1 always start patches, and for t ≥ 1 position t+1
 * starts one iff {@code H[t] > θ} (strict). H[0] is never read. Without the virtual next byte the last entropy is not
 * read either (the reference drops the mask's last column), so t runs to N−2; with it, to N−1, where a start at N
 * opens the patch of the virtual byte.
 *
 * <p>The comparison is in float32, as the reference compares its float32 entropy tensor with the threshold: the
 * threshold is rounded to float once, and entropies are never rounded further (the Daenerys fixture has an entropy
 * 0.0017 above θ).
 */
public record GlobalThresholdPatcher(float threshold, int maxPatchLength) implements Patcher {
    public GlobalThresholdPatcher {
        Thresholds.check("threshold", threshold);
        Thresholds.checkMaxLength(maxPatchLength);
    }

    @Override
    public int[] starts(int[] ids, float[] h, int n, int total) {
        IntList s = PatchInput.forcedStarts(total, Math.max(16, total / 4));
        float theta = threshold;
        for (int t = 1; t <= total - 2; t++)
            if (h[t] > theta) s.add(t + 1);
        return s.toArray();
    }

    @Override
    public String describe() {
        return "entropy (global threshold θ=" + threshold + ")" + PatchInput.limitSuffix(maxPatchLength);
    }
}

package dev.patchwork.patch;

/**
 * Entropy patching with both thresholds ({@code threshold_add} set, {@code monotonicity} off:
 * {@code patch_start_mask_global_and_monotonicity}). Positions 0, 1 and 2 always start patches and position 3 never
 * does: the reference's vectorised test ANDs each column with the negation of the previous column of the mask as it
 * was before the test, in which only the first column (t = 1) is set, so column t = 2 is always off. For t ≥ 3,
 * position t+1 starts a patch iff {@code H[t] − H[t−1] > threshold_add && H[t] > threshold} (float32).
 */
public record GlobalRelativePatcher(float threshold, float thresholdAdd, int maxPatchLength) implements Patcher {
    public GlobalRelativePatcher {
        Thresholds.check("threshold", threshold);
        Thresholds.check("threshold_add", thresholdAdd);
        Thresholds.checkMaxLength(maxPatchLength);
    }

    @Override
    public int[] starts(int[] ids, float[] h, int n, int total) {
        IntList s = PatchInput.forcedStarts(total, Math.max(16, total / 4));
        if (total - 2 >= 1) s.add(2); // the forced first mask column (t = 1); t = 2 never starts one
        float theta = threshold, add = thresholdAdd;
        for (int t = 3; t <= total - 2; t++) {
            float rise = h[t] - h[t - 1];
            if (rise > add && h[t] > theta) s.add(t + 1);
        }
        return s.toArray();
    }

    @Override
    public String describe() {
        return "entropy (global threshold θ=" + threshold + " and relative threshold_add=" + thresholdAdd + ")" + PatchInput.limitSuffix(maxPatchLength);
    }
}

package dev.patchwork.patch;

/**
 * Entropy patching with the approximate monotonic constraint ({@code monotonicity=True}:
 * {@code patch_start_mask_from_entropy_with_monotonicity}): positions 0, 1 and 2 always start patches (the mask's first
 * column is forced on), and for t ≥ 2 position t+1 starts one iff {@code H[t] − H[t−1] > θ}, the difference taken in
 * float32 like the reference's tensor subtraction. The range of t follows {@link GlobalThresholdPatcher}.
 */
public record RelativeThresholdPatcher(float threshold, int maxPatchLength) implements Patcher {
    public RelativeThresholdPatcher {
        Thresholds.check("threshold", threshold);
        Thresholds.checkMaxLength(maxPatchLength);
    }

    @Override
    public int[] starts(int[] ids, float[] h, int n, int total) {
        IntList s = PatchInput.forcedStarts(total, Math.max(16, total / 4));
        if (total - 2 >= 1) s.add(2); // the forced first mask column (t = 1)
        float theta = threshold;
        for (int t = 2; t <= total - 2; t++) {
            float rise = h[t] - h[t - 1];
            if (rise > theta) s.add(t + 1);
        }
        return s.toArray();
    }

    @Override
    public String describe() {
        return "entropy (relative threshold θ=" + threshold + ")" + PatchInput.limitSuffix(maxPatchLength);
    }
}

package dev.patchwork.patch;

import java.util.Arrays;

/**
 * Entropy patching without a threshold ({@code find_entropy_patch_start_ids} with {@code threshold=None}): besides the
 * forced starts 0 and 1, position t+1 starts a patch for the {@code k = ⌊N / patch_size⌋ − 2} largest entropies among
 * H[1..N−1], so every sequence of length N gets about N / patch_size patches. Unlike the threshold rules, the
 * reference does not drop the last entropy here when the virtual next byte is excluded: if H[N−1] is chosen, its start
 * (N) is past the end and the sequence simply has one patch fewer.
 *
 * <p>Where the reference is undefined or fails: ties are broken by position (earlier first; torch's {@code topk}
 * leaves their order unspecified), and k is clamped to {@code [0, N−1]} (torch raises for k < 0 or k > N−1).
 */
public record TopKPatcher(double patchSize, int maxPatchLength) implements Patcher {
    public TopKPatcher {
        if (!(patchSize > 0) || Double.isInfinite(patchSize))
            throw new IllegalArgumentException("patch_size must be a finite number > 0, got " + patchSize);
        Thresholds.checkMaxLength(maxPatchLength);
    }

    /** How many entropies open a patch in a sequence of n ids. */
    public int chosen(int n) {
        long k = (long) Math.floor(n / patchSize) - 2;
        return (int) Math.max(0, Math.min(k, Math.max(0, n - 1)));
    }

    @Override
    public int[] starts(int[] ids, float[] h, int n, int total) {
        int k = chosen(n);
        // Sort (entropy descending, position ascending) with one primitive sort of packed keys: high 32 bits = the
        // entropy's bits mapped so that a larger float gives a smaller key, low 32 bits = the position.
        long[] keys = new long[Math.max(0, n - 1)];
        for (int t = 1; t < n; t++) {
            int bits = Float.floatToIntBits(h[t] + 0.0f); // + 0.0f turns −0 into +0
            int ordered = bits ^ ((bits >> 31) & 0x7fffffff); // signed int order = float order
            keys[t - 1] = ((long) ~ordered << 32) | t;
        }
        Arrays.sort(keys);
        int[] chosenT = new int[k];
        for (int i = 0; i < k; i++) chosenT[i] = (int) keys[i];
        Arrays.sort(chosenT);
        IntList s = PatchInput.forcedStarts(total, k + 2);
        for (int t : chosenT)
            if (t + 1 < total) s.add(t + 1);
        return s.toArray();
    }

    @Override
    public boolean usesEntropies() {
        return true;
    }

    @Override
    public boolean readsIds() {
        return false;
    }

    @Override
    public String describe() {
        return "entropy (top-k, patch_size=" + patchSize + ")";
    }
}

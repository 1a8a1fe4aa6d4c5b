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
 * leaves their order unspecified), and k is clamped to {@code [0, N−1]} (torch raises for k < 0 or k > N−1). Entropies
 * of −0 and +0 count as equal.
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
        IntList s = PatchInput.forcedStarts(total, k + 2);
        if (k == 0) return s.toArray();
        // The k-th largest entropy v: every H[t] > v is chosen, and the earliest (k − #greater) of those equal to v.
        // Scanning t in order then yields the starts already sorted (a selection instead of a sort: O(N)).
        float[] candidates = Arrays.copyOfRange(h, 1, n);
        float v = kthLargest(candidates, k);
        int ties = k;
        for (int t = 1; t < n; t++) if (h[t] > v) ties--;
        for (int t = 1; t < n; t++) {
            boolean take = h[t] > v || (h[t] == v && ties-- > 0);
            if (take && t + 1 < total) s.add(t + 1);
        }
        return s.toArray();
    }

    /** The k-th largest value (1-based) of {@code a}, which is reordered: quickselect, falling back to a sort if it degrades. */
    static float kthLargest(float[] a, int k) {
        int target = a.length - k; // index of the k-th largest in ascending order
        int lo = 0, hi = a.length - 1, budget = 2 * (32 - Integer.numberOfLeadingZeros(a.length)) + 4;
        while (lo < hi) {
            if (budget-- == 0) {
                Arrays.sort(a, lo, hi + 1);
                break;
            }
            float pivot = medianOfThree(a[lo], a[(lo + hi) >>> 1], a[hi]);
            int i = lo, j = hi;
            while (i <= j) { // Hoare partition: a[lo..j] <= pivot <= a[i..hi]
                while (a[i] < pivot) i++;
                while (a[j] > pivot) j--;
                if (i <= j) {
                    float x = a[i];
                    a[i++] = a[j];
                    a[j--] = x;
                }
            }
            if (target <= j) hi = j;
            else if (target >= i) lo = i;
            else break; // a[j+1..i-1] all equal the pivot
        }
        return a[target];
    }

    private static float medianOfThree(float a, float b, float c) {
        return Math.max(Math.min(a, b), Math.min(Math.max(a, b), c));
    }

    @Override
    public String describe() {
        return "entropy (top-k, patch_size=" + patchSize + ")" + PatchInput.limitSuffix(maxPatchLength);
    }
}

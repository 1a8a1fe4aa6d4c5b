package dev.patchwork.patch;

import java.util.List;

/**
 * Finds the threshold θ that gives a target mean patch size over a set of documents (the reference has no code for
 * this; its maintainers tuned θ offline this way, issue #106). Documents are patched as for training
 * ({@code include_next_token=false}) and the mean size is {@code Σ positions / Σ patches}.
 *
 * <p>Raising θ only removes patch starts (for the global, relative and global+relative rules alike, and merging two
 * patches never adds pieces under {@code max_patch_length}), so the mean size is a non-decreasing step function of θ.
 * The patchers compare in float32, so θ ranges over the non-negative floats, whose bit patterns are ordered like their
 * values: bisecting on the bits finds the exact step where the size crosses the target in at most 31 evaluations.
 * All θ of a step give the same patches; the middle of the step is reported, so that entropies recomputed with
 * slightly different arithmetic are least likely to cross it.
 */
public final class ThresholdCalibration {
    /** The default tolerance: within 1% of the target. */
    public static final double DEFAULT_TOLERANCE = 0.01;

    /**
     * @param threshold       the θ to use (the middle of its step, as a float, since patchers compare in float32)
     * @param meanPatchSize   the mean patch size θ gives
     * @param targetSize      what was asked for
     * @param withinTolerance whether {@code |meanPatchSize − targetSize| ≤ tolerance · targetSize}
     * @param stepLow         the smallest θ that gives these patches
     * @param stepHigh        the largest θ that gives these patches (+∞ when every larger θ does too)
     * @param documents       documents with at least one position
     * @param positions       positions patched (ids, BOS and EOS included)
     * @param patches         patches at θ
     * @param note            why the target was missed (empty when within tolerance)
     */
    public record Result(float threshold, double meanPatchSize, double targetSize, boolean withinTolerance,
                         float stepLow, float stepHigh, int documents, long positions, long patches, String note) {}

    private final List<float[]> documents;
    private final PatcherConfig template;
    private final long positions;
    private final int nonEmpty;
    private final float ceiling;

    /**
     * @param documents one entropy array per document (one entropy per id, BOS first)
     * @param template  the rule to tune: entropy mode with a threshold (global, relative or global+relative); its own
     *                  threshold is ignored, its other settings (threshold_add, max_patch_length) are kept
     */
    public ThresholdCalibration(List<float[]> documents, PatcherConfig template) {
        if (!template.hasThreshold())
            throw new IllegalArgumentException("calibration tunes a threshold: use entropy patching with a threshold (not "
                    + (template.patchingMode() == PatcherConfig.Mode.ENTROPY ? "top-k" : template.patchingMode().jsonName()) + " patching)");
        this.documents = documents;
        this.template = template;
        long pos = 0;
        int docs = 0;
        float max = 0, min = 0;
        for (int d = 0; d < documents.size(); d++) {
            float[] h = documents.get(d);
            for (int t = 0; t < h.length; t++) {
                if (!Float.isFinite(h[t])) throw new IllegalArgumentException("document " + d + ": entropy at position " + t + " is " + h[t] + ": entropies must be finite");
                max = Math.max(max, h[t]);
                min = Math.min(min, h[t]);
            }
            pos += h.length;
            if (h.length > 0) docs++;
        }
        if (pos == 0) throw new IllegalArgumentException("no positions to calibrate on: give at least one non-empty document");
        this.positions = pos;
        this.nonEmpty = docs;
        // Beyond this θ no entropy (global rule) and no rise H[t] − H[t−1] (relative rules) can exceed it.
        this.ceiling = Math.max(max, max - min);
    }

    /** Finds θ for {@code targetSize} within {@link #DEFAULT_TOLERANCE}. */
    public Result calibrate(double targetSize) {
        return calibrate(targetSize, DEFAULT_TOLERANCE);
    }

    public Result calibrate(double targetSize, double tolerance) {
        if (!(targetSize > 0) || Double.isInfinite(targetSize)) throw new IllegalArgumentException("target patch size must be a number > 0, got " + targetSize);
        if (!(tolerance >= 0)) throw new IllegalArgumentException("tolerance must be >= 0, got " + tolerance);
        int top = Float.floatToIntBits(ceiling);
        int chosen;
        String note = "";
        if (mean(patchesAt(0)) >= targetSize) {
            chosen = 0;
        } else if (mean(patchesAt(top)) < targetSize) {
            chosen = top;
        } else {
            int lo = 0, hi = top; // invariant: mean(lo) < target <= mean(hi)
            while (hi - lo > 1) {
                int mid = lo + (hi - lo) / 2;
                if (mean(patchesAt(mid)) >= targetSize) hi = mid;
                else lo = mid;
            }
            double below = mean(patchesAt(lo)), above = mean(patchesAt(hi));
            chosen = targetSize - below < above - targetSize ? lo : hi;
            if (Math.min(targetSize - below, above - targetSize) > tolerance * targetSize)
                note = String.format("the mean patch size jumps from %.4f to %.4f at θ=%s: no threshold gives %.4f within %.1f%%; "
                        + "this is the closest (more documents make the steps smaller)", below, above, Float.intBitsToFloat(hi), targetSize, 100 * tolerance);
        }
        long count = patchesAt(chosen);
        double achieved = mean(count);
        boolean within = Math.abs(achieved - targetSize) <= tolerance * targetSize;
        if (!within && note.isEmpty())
            note = chosen == 0
                    ? String.format("even θ=0 gives mean patch size %.4f > %.4f: the target is below what threshold patching can reach", achieved, targetSize)
                    : String.format("the largest reachable mean patch size is %.4f (only the forced starts remain), below the target %.4f", achieved, targetSize);
        int stepLow = firstWithCount(count, chosen);
        int stepHigh = lastWithCount(count, chosen, top);
        float low = Float.intBitsToFloat(stepLow);
        float high = stepHigh == top ? Float.POSITIVE_INFINITY : Float.intBitsToFloat(stepHigh);
        float theta = Float.isInfinite(high) ? low : (float) (((double) low + high) / 2);
        return new Result(theta, achieved, targetSize, within, low, high, nonEmpty, positions, count, note);
    }

    /** The mean patch size at θ. */
    public double meanPatchSize(float threshold) {
        return mean(count(threshold));
    }

    private double mean(long patches) {
        return (double) positions / patches;
    }

    private long patchesAt(int thresholdBits) {
        return count(Float.intBitsToFloat(thresholdBits));
    }

    private long count(float threshold) {
        Patcher p = template.withThreshold((double) threshold).build();
        long patches = 0;
        for (float[] h : documents) patches += p.patchEntropies(h, false).count();
        return patches;
    }

    /** Smallest θ-bits ≤ {@code from} with the same number of patches (the count does not increase with θ). */
    private int firstWithCount(long count, int from) {
        int lo = -1, hi = from; // count(lo) > count (or lo is before 0), count(hi) == count
        while (hi - lo > 1) {
            int mid = lo + (hi - lo) / 2;
            if (patchesAt(mid) <= count) hi = mid;
            else lo = mid;
        }
        return hi;
    }

    /** Largest θ-bits in {@code [from, top]} with the same number of patches. */
    private int lastWithCount(long count, int from, int top) {
        if (patchesAt(top) == count) return top;
        int lo = from, hi = top; // count(lo) == count, count(hi) < count
        while (hi - lo > 1) {
            int mid = lo + (hi - lo) / 2;
            if (patchesAt(mid) >= count) lo = mid;
            else hi = mid;
        }
        return lo;
    }
}

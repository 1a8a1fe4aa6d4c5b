package dev.patchwork.patch;

/** Validation shared by the patchers' records. */
final class Thresholds {
    private Thresholds() {}

    /**
     * A threshold must be a finite number ≥ 0. Entropies are ≥ 0, so a negative global threshold would make every
     * byte a patch (use byte patching for that), and the paper's relative thresholds are positive too.
     */
    static void check(String name, double value) {
        if (Double.isNaN(value)) throw new IllegalArgumentException(name + " is NaN: give a number >= 0 (nats)");
        if (Double.isInfinite(value)) throw new IllegalArgumentException(name + " is infinite: give a finite number >= 0 (nats)");
        if (value < 0) throw new IllegalArgumentException(name + " must be >= 0 (nats), got " + value);
    }

    static void checkMaxLength(int maxPatchLength) {
        if (maxPatchLength < 0)
            throw new IllegalArgumentException("max_patch_length must be >= 1 (or unset for no limit), got " + maxPatchLength);
    }
}

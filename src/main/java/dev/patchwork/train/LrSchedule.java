package dev.patchwork.train;

/**
 * Learning-rate multiplier per step: linear warmup, then cosine (or linear, or constant) decay to {@code lr_min_ratio},
 * as the reference's {@code lr_cosine}: {@code min + ½(1 − min)(1 + cos(π·s))} with s the fraction of the decay phase.
 *
 * <p>One deliberate difference: warmup gives {@code (step+1)/warmup}, not {@code step/warmup}, so the first update is
 * not wasted on a zero learning rate (PyTorch's LambdaLR starts at 0).
 */
public record LrSchedule(String kind, int warmup, long totalSteps, double minRatio) {
    public LrSchedule {
        if (!kind.equals("cosine") && !kind.equals("linear") && !kind.equals("constant"))
            throw new IllegalArgumentException("scheduler must be cosine, linear or constant, got '" + kind + "'");
        if (warmup < 0) throw new IllegalArgumentException("warmup must be >= 0, got " + warmup);
        if (minRatio < 0 || minRatio > 1) throw new IllegalArgumentException("lr_min_ratio must be in [0, 1], got " + minRatio);
    }

    /** Multiplier of the base learning rate for the update of step {@code step} (0-based). */
    public double factor(long step) {
        if (step < warmup) return (step + 1) / (double) warmup;
        if (kind.equals("constant")) return 1.0;
        if (step >= totalSteps) return minRatio;
        double s = (step - warmup) / (double) Math.max(1, totalSteps - warmup);
        return switch (kind) {
            case "linear" -> 1.0 - (1.0 - minRatio) * s;
            default -> minRatio + 0.5 * (1 - minRatio) * (1 + Math.cos(Math.PI * s));
        };
    }
}

package dev.patchwork.layers;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Wall-clock time of a training step per layer kind and direction, for {@code patchwork bench train --profile}.
 * Models and blocks bracket their layer calls with {@link #start()} and {@link #stop}; when profiling is off (the
 * default) that is one predictable branch per layer call (tens per step) and no clock read. Times are those of the
 * thread that turned timing on (the team's other threads work inside the same calls or, with training replicas, run
 * another share of the batch through the same layers at the same time), and accumulate until
 * {@link #reset()}. Not for concurrent steps: enable it only around one training loop.
 */
public final class LayerProfile {
    /** What a timed call belongs to. */
    public enum Kind {
        EMBEDDING, ATTENTION, CROSS_ATTENTION, FEED_FORWARD, NORM, OUTPUT_AND_LOSS, OPTIMIZER;

        /** The name used in reports: {@code feed_forward}, ... */
        public String key() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    private static final Kind[] KINDS = Kind.values();
    private static boolean enabled;
    /** The thread that turned timing on: only its calls are timed (training replicas run the same layers elsewhere). */
    private static Thread owner;
    private static final long[] forward = new long[KINDS.length], backward = new long[KINDS.length];

    private LayerProfile() {}

    /** Turns timing on or off (off by default). */
    public static void enable(boolean on) {
        owner = Thread.currentThread();
        enabled = on;
    }

    public static boolean enabled() {
        return enabled;
    }

    /** A start time to pass to {@link #stop}; 0 when profiling is off. */
    public static long start() {
        return enabled && Thread.currentThread() == owner ? System.nanoTime() : 0L;
    }

    /** Adds the time since {@code start} to {@code kind}'s forward or backward total (nothing when off). */
    public static void stop(Kind kind, boolean isBackward, long start) {
        if (!enabled || start == 0L) return;
        long dt = System.nanoTime() - start;
        if (isBackward) backward[kind.ordinal()] += dt;
        else forward[kind.ordinal()] += dt;
    }

    /** Clears the totals. */
    public static void reset() {
        java.util.Arrays.fill(forward, 0);
        java.util.Arrays.fill(backward, 0);
    }

    /**
     * The totals divided by {@code steps}, against {@code stepNanos} (the total time of those steps): per kind
     * {@code forward_ms}, {@code backward_ms} (the optimizer: {@code ms}) and {@code fraction} of the step, plus {@code other} (what no kind
     * covers: masks, residual copies, loss bookkeeping, patch pooling, the step's own overhead).
     */
    public static Map<String, Object> report(int steps, long stepNanos) {
        Map<String, Object> out = new LinkedHashMap<>();
        long covered = 0;
        for (Kind k : KINDS) {
            long f = forward[k.ordinal()], b = backward[k.ordinal()];
            if (f + b == 0) continue;
            covered += f + b;
            Map<String, Object> m = new LinkedHashMap<>();
            if (k == Kind.OPTIMIZER) { // clipping and the update: no direction
                m.put("ms", round((f + b) / 1e6 / steps));
            } else {
                m.put("forward_ms", round(f / 1e6 / steps));
                m.put("backward_ms", round(b / 1e6 / steps));
            }
            m.put("fraction", round((double) (f + b) / stepNanos));
            out.put(k.key(), m);
        }
        Map<String, Object> other = new LinkedHashMap<>();
        other.put("ms", round(Math.max(0, stepNanos - covered) / 1e6 / steps));
        other.put("fraction", round(Math.max(0, (double) (stepNanos - covered) / stepNanos)));
        out.put("other", other);
        return out;
    }

    private static double round(double v) {
        return Math.round(v * 1000) / 1000.0;
    }
}

package dev.patchwork.oracle;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Comparisons of float layer results against the double oracle, with tolerances that float32 rounding passes easily
 * but real bugs do not: every gradient check also proves, on the same data, that a sign flip, a dropped entry or a 5%
 * scale error of the analytic gradient would have failed it.
 */
public final class GradientAssertions {
    /** Forward outputs: error relative to the largest magnitude of the tensor. */
    public static final double FORWARD_REL = 1e-5;
    /** Gradients: per entry, {@code |analytic − numeric| ≤ ABS + REL·|numeric|}. */
    public static final double REL = 1e-3, ABS = 1e-5;
    /** A gradient this small could hide a bug under {@link #ABS}; the test data must produce larger ones. */
    static final double SMALLEST_USEFUL_MAX = 2e-3;

    private GradientAssertions() {}

    public static void assertForwardMatches(String what, float[] actual, double[] expected) {
        assertEquals(expected.length, actual.length, what + ": output length");
        double tol = FORWARD_REL * Math.max(maxAbs(expected), 1e-6);
        int worst = worstIndex(actual, expected);
        double err = Math.abs(actual[worst] - expected[worst]);
        if (!(err <= tol))
            fail(what + ": forward entry " + worst + " is " + actual[worst] + ", oracle " + expected[worst]
                    + " (error " + err + " > " + tol + ")");
    }

    /** True when {@code actual} and {@code expected} agree within the forward tolerance. */
    public static boolean forwardMatches(float[] actual, double[] expected) {
        double tol = FORWARD_REL * Math.max(maxAbs(expected), 1e-6);
        int worst = worstIndex(actual, expected);
        return Math.abs(actual[worst] - expected[worst]) <= tol;
    }

    /** Asserts that the analytic gradient matches the numeric one, and that plausible bugs would not. */
    public static void assertGradientMatches(String what, float[] analytic, double[] numeric) {
        assertEquals(numeric.length, analytic.length, what + ": gradient length");
        int bad = firstMismatch(analytic, numeric);
        if (bad >= 0) {
            int worst = worstIndex(analytic, numeric);
            fail(what + ": gradient entry " + bad + " is " + analytic[bad] + ", finite differences " + numeric[bad]
                    + " (worst entry " + worst + ": " + analytic[worst] + " vs " + numeric[worst] + ")");
        }
        double max = maxAbs(numeric);
        assertTrue(max > SMALLEST_USEFUL_MAX, what + ": largest gradient " + max + " is too small for the check to catch a bug");
        float[] mutant = new float[analytic.length];
        for (int i = 0; i < mutant.length; i++) mutant[i] = -analytic[i];
        assertTrue(firstMismatch(mutant, numeric) >= 0, what + ": a sign flip would go unnoticed");
        int largest = 0;
        for (int i = 0; i < numeric.length; i++) if (Math.abs(numeric[i]) > Math.abs(numeric[largest])) largest = i;
        mutant = analytic.clone();
        mutant[largest] = 0f;
        assertTrue(firstMismatch(mutant, numeric) >= 0, what + ": dropping the largest entry would go unnoticed");
        for (int i = 0; i < mutant.length; i++) mutant[i] = analytic[i] * 1.05f;
        assertTrue(firstMismatch(mutant, numeric) >= 0, what + ": a 5% scale error would go unnoticed");
    }

    /** Index of the first entry outside {@code ABS + REL·|numeric|}, or −1. */
    public static int firstMismatch(float[] analytic, double[] numeric) {
        for (int i = 0; i < numeric.length; i++) {
            double err = Math.abs(analytic[i] - numeric[i]);
            if (!(err <= ABS + REL * Math.abs(numeric[i]))) return i;
        }
        return -1;
    }

    /** The index where {@code |actual − expected|} is largest (the first non-finite entry wins). */
    static int worstIndex(float[] actual, double[] expected) {
        int worst = 0;
        double w = -1;
        for (int i = 0; i < expected.length; i++) {
            double e = Math.abs(actual[i] - expected[i]);
            if (Double.isNaN(e)) return i;
            if (e > w) {
                w = e;
                worst = i;
            }
        }
        return worst;
    }

    public static double maxAbs(double[] a) {
        double m = 0;
        for (double v : a) m = Math.max(m, Math.abs(v));
        return m;
    }
}

package dev.patchwork.oracle;

import java.util.function.DoubleSupplier;

/** Central finite differences of a double-precision function, taken by perturbing an array in place. */
public final class FiniteDifferences {
    /** Relative step: in double, truncation error (~h²) and rounding error (~1e-16/h) are both far below 1e-8. */
    public static final double STEP = 1e-6;

    private FiniteDifferences() {}

    /** {@code ∂f/∂values[i]} for every i; each entry is restored before the next one is perturbed. */
    public static double[] gradient(double[] values, DoubleSupplier f) {
        double[] g = new double[values.length];
        for (int i = 0; i < values.length; i++) {
            double v = values[i], h = STEP * Math.max(1, Math.abs(v));
            values[i] = v + h;
            double up = f.getAsDouble();
            values[i] = v - h;
            double down = f.getAsDouble();
            values[i] = v;
            g[i] = (up - down) / (2 * h);
        }
        return g;
    }

    /**
     * {@code ∂f/∂values[i]} for each i of {@code indices} only (for models too large to perturb every entry), in the
     * order of {@code indices}.
     */
    public static double[] gradientAt(double[] values, int[] indices, DoubleSupplier f) {
        double[] g = new double[indices.length];
        for (int n = 0; n < indices.length; n++) {
            int i = indices[n];
            double v = values[i], h = STEP * Math.max(1, Math.abs(v));
            values[i] = v + h;
            double up = f.getAsDouble();
            values[i] = v - h;
            double down = f.getAsDouble();
            values[i] = v;
            g[n] = (up - down) / (2 * h);
        }
        return g;
    }

    /** {@code Σ a·b}: the scalar loss {@code sum(out ⊙ G)} whose gradient with respect to {@code out} is G. */
    public static double dot(double[] a, double[] b) {
        if (a.length != b.length) throw new IllegalArgumentException("lengths differ: " + a.length + " vs " + b.length);
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }
}

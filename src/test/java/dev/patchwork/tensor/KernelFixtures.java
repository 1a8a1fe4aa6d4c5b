package dev.patchwork.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

import static dev.patchwork.tensor.ParameterBuffer.F32;
import static org.junit.jupiter.api.Assertions.fail;

/** Random inputs, native float segments and tolerance checks shared by the kernel tests. */
final class KernelFixtures {
    /** Sizes around multiples of every species' lane count (2 to 16 floats), so vector loops get ragged tails. */
    static final int[] RAGGED = {1, 3, 7, 15, 16, 17, 31, 33, 64, 100, 257};

    private KernelFixtures() {}

    /** {@code n} uniform values in [−scale, scale). */
    static float[] randomFloats(SplittableRandom rnd, int n, double scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) ((rnd.nextDouble() * 2 - 1) * scale);
        return a;
    }

    /** A native little-endian float segment holding a copy of {@code values}. */
    static MemorySegment segmentOf(float[] values) {
        MemorySegment seg = Arena.ofAuto().allocate(Math.max(1, values.length) * (long) Float.BYTES, 64);
        MemorySegment.copy(values, 0, seg, F32, 0, values.length);
        return seg;
    }

    static float[] toArray(MemorySegment seg) {
        float[] out = new float[(int) (seg.byteSize() / Float.BYTES)];
        MemorySegment.copy(seg, F32, 0, out, 0, out.length);
        return out;
    }

    static double[] toDouble(float[] a) {
        double[] out = new double[a.length];
        for (int i = 0; i < a.length; i++) out[i] = a[i];
        return out;
    }

    /** Fails unless {@code |actual − expected| <= abs + rel·|expected|} for every element. */
    static void assertClose(float[] expected, float[] actual, double abs, double rel, String what) {
        if (expected.length != actual.length) fail(what + ": lengths " + expected.length + " vs " + actual.length);
        for (int i = 0; i < expected.length; i++) {
            double tol = abs + rel * Math.abs(expected[i]);
            if (!(Math.abs(actual[i] - expected[i]) <= tol)) // also fails on NaN
                fail(what + ": element " + i + " expected " + expected[i] + " but was " + actual[i] + " (tolerance "
                        + tol + ")");
        }
    }

    /**
     * Fails unless the analytic gradient matches the central differences to {@code rel} of the largest difference
     * quotient (plus 1e-6): a wrong formula is off by O(1), float rounding by about 1e-6.
     */
    static void assertGradient(double[] numeric, float[] analytic, double rel, String what) {
        double scale = 0;
        for (double v : numeric) scale = Math.max(scale, Math.abs(v));
        for (int i = 0; i < numeric.length; i++) {
            double err = Math.abs(analytic[i] - numeric[i]);
            if (!(err <= rel * scale + 1e-6))
                fail(what + ": element " + i + " analytic " + analytic[i] + " vs finite difference " + numeric[i]);
        }
    }

    /** A scalar function of a double vector, the loss of a double-precision reference forward pass. */
    @FunctionalInterface
    interface Loss {
        double at(double[] x);
    }

    /** Central differences {@code (L(x + h e_i) − L(x − h e_i)) / 2h} of {@code loss} at {@code x}. */
    static double[] centralDifferences(Loss loss, float[] x, double h) {
        double[] p = new double[x.length];
        for (int i = 0; i < x.length; i++) p[i] = x[i];
        double[] g = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            double keep = p[i];
            p[i] = keep + h;
            double up = loss.at(p);
            p[i] = keep - h;
            double down = loss.at(p);
            p[i] = keep;
            g[i] = (up - down) / (2 * h);
        }
        return g;
    }
}

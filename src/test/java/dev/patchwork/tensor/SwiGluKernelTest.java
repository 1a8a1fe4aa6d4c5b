package dev.patchwork.tensor;

import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

import static dev.patchwork.tensor.KernelFixtures.*;

/**
 * SwiGLU: the scalar backward against finite differences of a double-precision forward, then the vector versions
 * against the scalar twins. The vector exponential is within a few ulps of {@code Math.exp}; tolerance 1e-5 relative.
 */
class SwiGluKernelTest {
    @Test
    void vectorMatchesScalarOnRaggedShapes() {
        SplittableRandom rnd = new SplittableRandom(31);
        for (int f : RAGGED) {
            for (int rows : new int[] {1, 6}) check(rnd, rows, f);
        }
        check(rnd, 40, 257); // 20k+ floats: the multi-threaded path
    }

    private static void check(SplittableRandom rnd, int rows, int f) {
        // Pre-activations up to ±12 cover both saturated ends of the sigmoid.
        float[] h = randomFloats(rnd, rows * 2 * f, 12), dg = randomFloats(rnd, rows * f, 1);
        float[] gScalar = new float[rows * f], gVector = new float[rows * f];
        SwiGluKernel.forwardScalar(h, gScalar, rows, f);
        SwiGluKernel.forwardVector(h, gVector, rows, f);
        assertClose(gScalar, gVector, 1e-6, 1e-5, "g " + rows + "x" + f);
        float[] dhScalar = new float[rows * 2 * f], dhVector = randomFloats(rnd, rows * 2 * f, 1); // overwritten
        SwiGluKernel.backwardScalar(h, dg, dhScalar, rows, f);
        SwiGluKernel.backwardVector(h, dg, dhVector, rows, f);
        assertClose(dhScalar, dhVector, 1e-6, 1e-5, "dh " + rows + "x" + f);
    }

    @Test
    void scalarBackwardMatchesFiniteDifferencesOfDoubleForward() {
        SplittableRandom rnd = new SplittableRandom(32);
        int rows = 3, f = 7;
        float[] h = randomFloats(rnd, rows * 2 * f, 4), dg = randomFloats(rnd, rows * f, 1);
        float[] dh = new float[h.length];
        SwiGluKernel.backwardScalar(h, dg, dh, rows, f);
        KernelFixtures.Loss loss = hs -> {
            double total = 0;
            for (int r = 0; r < rows; r++) {
                for (int i = 0; i < f; i++) {
                    double a = hs[r * 2 * f + i], b = hs[r * 2 * f + f + i];
                    total += dg[r * f + i] * a / (1 + Math.exp(-a)) * b;
                }
            }
            return total;
        };
        assertGradient(centralDifferences(loss, h, 1e-4), dh, 1e-4, "dh");
    }
}

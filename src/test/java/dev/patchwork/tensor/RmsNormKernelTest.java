package dev.patchwork.tensor;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

import static dev.patchwork.tensor.KernelFixtures.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/**
 * RMSNorm: the scalar twin against finite differences of a double-precision forward, then the vector version against
 * the scalar twin. Tolerances: vector vs scalar 1e-5 relative (only the order of the float sums differs; dw adds up
 * to 96 rows, hence 5e-5 absolute there); analytic vs numeric gradient 1e-4 of the largest gradient.
 */
class RmsNormKernelTest {
    private static final float EPS = 1e-5f;

    @Test
    void vectorForwardMatchesScalarOnRaggedShapes() {
        SplittableRandom rnd = new SplittableRandom(11);
        for (int d : RAGGED) {
            for (int rows : new int[] {1, 5}) checkForward(rnd, rows, d);
        }
        checkForward(rnd, 96, 257); // 24k floats: the multi-threaded path
    }

    private static void checkForward(SplittableRandom rnd, int rows, int d) {
        float[] x = randomFloats(rnd, 3 + rows * d, 2);
        MemorySegment w = segmentOf(randomFloats(rnd, 2 + d, 1.5));
        float[] yScalar = new float[1 + rows * d], yVector = new float[1 + rows * d];
        float[] rstdScalar = new float[rows], rstdVector = new float[rows];
        RmsNormKernel.forwardScalar(x, 3, w, 2, yScalar, 1, rstdScalar, rows, d, EPS);
        RmsNormKernel.forwardVector(x, 3, w, 2, yVector, 1, rstdVector, rows, d, EPS);
        String shape = rows + "x" + d;
        assertClose(rstdScalar, rstdVector, 0, 1e-5, "rstd " + shape);
        assertClose(yScalar, yVector, 1e-6, 1e-5, "y " + shape);
    }

    @Test
    void vectorBackwardMatchesScalarAndAccumulates() {
        SplittableRandom rnd = new SplittableRandom(12);
        for (int d : RAGGED) {
            for (int rows : new int[] {1, 4}) checkBackward(rnd, rows, d, true);
        }
        checkBackward(rnd, 96, 257, true); // multi-threaded, per-thread partial dw
        checkBackward(rnd, 7, 33, false); // frozen weight: dw == null
    }

    private static void checkBackward(SplittableRandom rnd, int rows, int d, boolean withDw) {
        float[] x = randomFloats(rnd, rows * d, 2), dy = randomFloats(rnd, 1 + rows * d, 1);
        MemorySegment w = segmentOf(randomFloats(rnd, d, 1.5));
        float[] rstd = new float[rows];
        RmsNormKernel.forwardScalar(x, 0, w, 0, new float[rows * d], 0, rstd, rows, d, EPS);
        // Nonzero starting gradients: both versions must add into them.
        float[] dx0 = randomFloats(rnd, 2 + rows * d, 1), dw0 = randomFloats(rnd, 1 + d, 1);
        float[] dxScalar = dx0.clone(), dxVector = dx0.clone();
        MemorySegment dwScalar = withDw ? segmentOf(dw0) : null, dwVector = withDw ? segmentOf(dw0) : null;
        RmsNormKernel.backwardScalar(dy, 1, x, 0, w, 0, rstd, dxScalar, 2, dwScalar, 1, rows, d);
        RmsNormKernel.backwardVector(dy, 1, x, 0, w, 0, rstd, dxVector, 2, dwVector, 1, rows, d);
        String shape = rows + "x" + d;
        assertClose(dxScalar, dxVector, 1e-5, 1e-5, "dx " + shape);
        if (withDw) assertClose(toArray(dwScalar), toArray(dwVector), 5e-5, 1e-5, "dw " + shape);
    }

    @Test
    void vectorBackwardIsDeterministic() {
        SplittableRandom rnd = new SplittableRandom(13);
        int rows = 128, d = 200;
        float[] x = randomFloats(rnd, rows * d, 2), dy = randomFloats(rnd, rows * d, 1);
        MemorySegment w = segmentOf(randomFloats(rnd, d, 1.5));
        float[] rstd = new float[rows];
        RmsNormKernel.forwardVector(x, 0, w, 0, new float[rows * d], 0, rstd, rows, d, EPS);
        float[] dx1 = new float[rows * d], dx2 = new float[rows * d];
        MemorySegment dw1 = segmentOf(new float[d]), dw2 = segmentOf(new float[d]);
        RmsNormKernel.backwardVector(dy, 0, x, 0, w, 0, rstd, dx1, 0, dw1, 0, rows, d);
        RmsNormKernel.backwardVector(dy, 0, x, 0, w, 0, rstd, dx2, 0, dw2, 0, rows, d);
        assertArrayEquals(dx1, dx2);
        assertArrayEquals(toArray(dw1), toArray(dw2));
    }

    @Test
    void scalarBackwardMatchesFiniteDifferencesOfDoubleForward() {
        SplittableRandom rnd = new SplittableRandom(14);
        int rows = 3, d = 9;
        float[] x = randomFloats(rnd, rows * d, 2), w = randomFloats(rnd, d, 1.5), g = randomFloats(rnd, rows * d, 1);
        MemorySegment wSeg = segmentOf(w);
        float[] rstd = new float[rows];
        RmsNormKernel.forwardScalar(x, 0, wSeg, 0, new float[rows * d], 0, rstd, rows, d, EPS);
        float[] dx = new float[rows * d];
        MemorySegment dw = segmentOf(new float[d]);
        RmsNormKernel.backwardScalar(g, 0, x, 0, wSeg, 0, rstd, dx, 0, dw, 0, rows, d);

        double[] wd = toDouble(w), xd = toDouble(x);
        assertGradient(centralDifferences(xs -> loss(xs, wd, g, rows, d), x, 1e-4), dx, 1e-4, "dx");
        assertGradient(centralDifferences(ws -> loss(xd, ws, g, rows, d), w, 1e-4), toArray(dw), 1e-4, "dw");
    }

    /** {@code Σ g ⊙ RMSNorm(x; w)} in double precision. */
    private static double loss(double[] x, double[] w, float[] g, int rows, int d) {
        double total = 0;
        for (int r = 0; r < rows; r++) {
            double ss = 0;
            for (int i = 0; i < d; i++) ss += x[r * d + i] * x[r * d + i];
            double s = 1 / Math.sqrt(ss / d + EPS);
            for (int i = 0; i < d; i++) total += g[r * d + i] * x[r * d + i] * s * w[i];
        }
        return total;
    }
}

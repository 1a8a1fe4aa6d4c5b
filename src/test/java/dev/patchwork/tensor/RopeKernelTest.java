package dev.patchwork.tensor;

import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

import static dev.patchwork.tensor.KernelFixtures.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * RoPE with interleaved pairs. The vector version does the same float operations as the scalar twin, so they must
 * agree bit for bit; the scalar twin is checked against the rotation written out in double precision.
 */
class RopeKernelTest {
    private static final int[] HEAD_DIMS = {2, 6, 16, 34, 64, 66};

    @Test
    void vectorMatchesScalarExactlyAndLeavesGapsAlone() {
        SplittableRandom rnd = new SplittableRandom(21);
        for (int hd : HEAD_DIMS) {
            RopeTable table = new RopeTable(hd, 300, 10_000);
            for (int heads : new int[] {1, 3}) {
                for (boolean inverse : new boolean[] {false, true}) {
                    check(rnd, table, 5, heads, 1 + rnd.nextInt(200), inverse);
                }
            }
        }
        // Rows with 16k+ floats of work: the multi-threaded path.
        check(rnd, new RopeTable(64, 300, 500_000), 70, 4, 3, false);
    }

    private static void check(SplittableRandom rnd, RopeTable table, int rows, int heads, int startPos,
                              boolean inverse) {
        int hd = table.headDim(), stride = heads * hd + 5, off = 3; // 5 floats of other data between rows
        float[] x = randomFloats(rnd, off + rows * stride, 1);
        float[] scalar = x.clone(), vector = x.clone();
        RopeKernel.applyScalar(scalar, off, stride, rows, heads, startPos, table, inverse);
        RopeKernel.applyVector(vector, off, stride, rows, rows, heads, startPos, table, inverse);
        assertArrayEquals(scalar, vector, "hd " + hd + ", heads " + heads + ", inverse " + inverse);
        for (int r = 0; r < rows; r++) {
            for (int k = heads * hd; k < stride; k++) {
                int at = off + r * stride + k;
                assertEquals(x[at], vector[at], "value between rows changed at " + at);
            }
        }
    }

    /** A batch in one pass equals one call per sequence, positions restarting at 0 in each (exactly, as the twin). */
    @Test
    void perSequenceBatchEqualsOneCallPerSequence() {
        SplittableRandom rnd = new SplittableRandom(5);
        int hd = 32, heads = 3, stride = heads * hd + 5, T = 37, sequences = 5;
        RopeTable table = new RopeTable(hd, 64, 10000.0);
        for (boolean inverse : new boolean[] {false, true}) {
            float[] batch = new float[sequences * T * stride];
            for (int i = 0; i < batch.length; i++) batch[i] = (float) (rnd.nextDouble() * 2 - 1);
            float[] each = batch.clone();
            RopeKernel.applyPerSequence(batch, stride, sequences, T, heads, table, inverse);
            for (int b = 0; b < sequences; b++) RopeKernel.applyScalar(each, b * T * stride, stride, T, heads, 0, table, inverse);
            assertArrayEquals(each, batch);
        }
        float[] tooLong = new float[2 * 65 * stride];
        assertThrows(IllegalArgumentException.class, () -> RopeKernel.applyPerSequence(tooLong, stride, 2, 65, heads, table, false));
    }

    @Test
    void inverseUndoesForward() {
        SplittableRandom rnd = new SplittableRandom(22);
        for (int hd : HEAD_DIMS) {
            RopeTable table = new RopeTable(hd, 2000, 500_000);
            int rows = 40, heads = 2;
            float[] x = randomFloats(rnd, rows * heads * hd, 3);
            float[] y = x.clone();
            RopeKernel.apply(y, 0, heads * hd, rows, heads, 1900, table, false);
            RopeKernel.apply(y, 0, heads * hd, rows, heads, 1900, table, true);
            assertClose(x, y, 1e-6, 1e-6, "inverse after forward, hd " + hd);
        }
    }

    @Test
    void positionZeroIsTheIdentity() {
        SplittableRandom rnd = new SplittableRandom(23);
        RopeTable table = new RopeTable(34, 10, 10_000);
        float[] x = randomFloats(rnd, 3 * 34, 3);
        for (boolean inverse : new boolean[] {false, true}) {
            float[] scalar = x.clone(), vector = x.clone();
            RopeKernel.applyScalar(scalar, 0, 34, 1, 3, 0, table, inverse);
            RopeKernel.applyVector(vector, 0, 34, 1, 1, 3, 0, table, inverse);
            assertArrayEquals(x, scalar);
            assertArrayEquals(x, vector);
        }
    }

    @Test
    void scalarRotatesInterleavedPairsByPositionTimesFrequency() {
        SplittableRandom rnd = new SplittableRandom(24);
        int hd = 16, rows = 30, startPos = 10;
        double theta = 10_000;
        RopeTable table = new RopeTable(hd, 64, theta);
        float[] x = randomFloats(rnd, rows * hd, 2);
        float[] y = x.clone();
        RopeKernel.applyScalar(y, 0, hd, rows, 1, startPos, table, false);
        float[] expected = new float[x.length];
        for (int r = 0; r < rows; r++) {
            for (int i = 0; i < hd / 2; i++) {
                double angle = (startPos + r) * Math.pow(theta, -2.0 * i / hd);
                double a = x[r * hd + 2 * i], b = x[r * hd + 2 * i + 1];
                expected[r * hd + 2 * i] = (float) (a * Math.cos(angle) - b * Math.sin(angle));
                expected[r * hd + 2 * i + 1] = (float) (a * Math.sin(angle) + b * Math.cos(angle));
            }
        }
        // float32 angles (as the reference) are off by up to ~40 positions × 1 ulp: 1e-5 covers it.
        assertClose(expected, y, 1e-5, 0, "rotation against double precision");
    }

    @Test
    void positionsPastTheTableAreRejected() {
        RopeTable table = new RopeTable(8, 10, 10_000);
        float[] x = new float[4 * 8];
        assertThrows(IllegalArgumentException.class, () -> RopeKernel.apply(x, 0, 8, 4, 1, 7, table, false));
        assertThrows(IllegalArgumentException.class, () -> RopeKernel.applyScalar(x, 0, 8, 4, 1, 7, table, false));
        assertThrows(IllegalArgumentException.class, () -> RopeKernel.applyVector(x, 0, 8, 4, 4, 1, 7, table, false));
    }
}

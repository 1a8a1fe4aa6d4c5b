package dev.patchwork.tensor;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

import static dev.patchwork.tensor.KernelFixtures.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Flat helpers, vector against scalar twin. Element-wise operations must agree bit for bit; reductions sum in a
 * different order, so they agree to 1e-6 of the sum of absolute terms.
 */
class VectorOpsTest {
    @Test
    void elementwiseOpsMatchScalarExactly() {
        SplittableRandom rnd = new SplittableRandom(61);
        for (int n : RAGGED) {
            float[] a = randomFloats(rnd, n + 1, 5), b = randomFloats(rnd, n + 2, 5);
            float[] outScalar = randomFloats(rnd, n + 3, 1), outVector = outScalar.clone();
            VectorOps.addScalar(a, 1, b, 2, outScalar, 3, n);
            VectorOps.addVector(a, 1, b, 2, outVector, 3, n);
            assertArrayEquals(outScalar, outVector, "add n=" + n);
            for (int i = 0; i < n; i++) assertEquals(a[1 + i] + b[2 + i], outScalar[3 + i], "add n=" + n);

            float[] dstScalar = a.clone(), dstVector = a.clone();
            VectorOps.addInPlaceScalar(dstScalar, 1, b, 2, n);
            VectorOps.addInPlace(dstVector, 1, b, 2, n);
            assertArrayEquals(dstScalar, dstVector, "addInPlace n=" + n);
            assertEquals(a[0], dstVector[0], "addInPlace must not touch values before the range");

            float[] xScalar = b.clone(), xVector = b.clone();
            VectorOps.scaleScalar(xScalar, 2, n, -0.3f);
            VectorOps.scaleVector(xVector, 2, n, -0.3f);
            assertArrayEquals(xScalar, xVector, "scale n=" + n);
            assertEquals(b[1], xVector[1], "scale must not touch values before the range");
        }
    }

    @Test
    void dotMatchesScalarAndDouble() {
        SplittableRandom rnd = new SplittableRandom(62);
        for (int n : new int[] {0, 1, 7, 17, 63, 64, 65, 129, 1000, 4099}) {
            float[] a = randomFloats(rnd, n + 1, 3), b = randomFloats(rnd, n + 2, 3);
            double exact = 0, absSum = 0;
            for (int i = 0; i < n; i++) {
                exact += (double) a[1 + i] * b[2 + i];
                absSum += Math.abs((double) a[1 + i] * b[2 + i]);
            }
            assertEquals(exact, VectorOps.dotScalar(a, 1, b, 2, n), 1e-6 * absSum + 1e-7, "scalar dot n=" + n);
            assertEquals(exact, VectorOps.dotVector(a, 1, b, 2, n), 1e-6 * absSum + 1e-7, "vector dot n=" + n);
        }
    }

    @Test
    void segmentSumOfSquaresMatchesScalarAndIsDeterministic() {
        SplittableRandom rnd = new SplittableRandom(63);
        for (int n : new int[] {0, 1, 15, 17, 4095, 4097, 100_003}) { // the last one runs on every thread
            int off = 5;
            MemorySegment seg = segmentOf(randomFloats(rnd, off + n + 2, 2));
            double scalar = VectorOps.sumOfSquaresScalar(seg, off, n);
            double vector = VectorOps.sumOfSquaresVector(seg, off, n);
            assertEquals(scalar, vector, 1e-6 * scalar, "sum of squares n=" + n);
            assertEquals(vector, VectorOps.sumOfSquaresVector(seg, off, n), 0, "repeat n=" + n);
        }
    }

    @Test
    void segmentScaleMatchesScalarExactly() {
        SplittableRandom rnd = new SplittableRandom(64);
        for (int n : new int[] {0, 1, 17, 16_385, 100_003}) {
            float[] values = randomFloats(rnd, n + 7, 2);
            MemorySegment scalar = segmentOf(values), vector = segmentOf(values);
            VectorOps.scaleScalar(scalar, 3, n, 0.71f);
            VectorOps.scaleVector(vector, 3, n, 0.71f);
            float[] s = toArray(scalar), v = toArray(vector);
            assertArrayEquals(s, v, "scale n=" + n);
            assertEquals(values[2], v[2], "values before the range are untouched");
            assertEquals(values[n + 3], v[n + 3], "values after the range are untouched");
        }
    }

    @Test
    void segmentAddMatchesScalarExactly() {
        SplittableRandom rnd = new SplittableRandom(65);
        for (int n : new int[] {0, 1, 17, 16_385, 100_003}) {
            float[] a = randomFloats(rnd, n + 3, 2), b = randomFloats(rnd, n + 3, 2);
            MemorySegment scalar = segmentOf(a), vector = segmentOf(a), src = segmentOf(b);
            VectorOps.addInPlaceScalar(scalar, src, n);
            VectorOps.addInPlaceVector(vector, src, n);
            float[] s = toArray(scalar), v = toArray(vector);
            assertArrayEquals(s, v, "add n=" + n);
            for (int i = 0; i < n; i++) assertEquals(a[i] + b[i], s[i], "element " + i);
            assertEquals(a[n], v[n], "values after the range are untouched");
        }
    }

    @Test
    void rangesOutsideTheSegmentAreRejected() {
        MemorySegment seg = segmentOf(new float[10]);
        assertThrows(IllegalArgumentException.class, () -> VectorOps.sumOfSquares(seg, 5, 6));
        assertThrows(IllegalArgumentException.class, () -> VectorOps.scale(seg, -1, 2, 1f));
        assertThrows(IllegalArgumentException.class, () -> VectorOps.sumOfSquaresScalar(seg, 0, 11));
        assertThrows(IllegalArgumentException.class, () -> VectorOps.addInPlace(seg, segmentOf(new float[5]), 6));
    }
}

package dev.patchwork.tensor;

import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/** The register transposition against its element-wise twin (exact: it only moves values). */
class Transpose16Test {
    @Test
    void blockEqualsTheElementWiseTransposition() {
        SplittableRandom r = new SplittableRandom(3);
        for (int srcStride : new int[] {16, 40}) {
            float[] src = new float[3 + 15 * srcStride + 16];
            for (int i = 0; i < src.length; i++) src[i] = (float) r.nextGaussian();
            for (int stride : new int[] {16, 64, 70}) {
                float[] expected = new float[5 + 15 * stride + 16], actual = expected.clone();
                java.util.Arrays.fill(expected, -7f); // what lies between the rows must stay untouched
                java.util.Arrays.fill(actual, -7f);
                Transpose16.blockScalar(src, 3, srcStride, expected, 5, stride);
                Transpose16.block(src, 3, srcStride, actual, 5, stride);
                assertArrayEquals(expected, actual, "strides " + srcStride + ", " + stride);
            }
        }
    }
}

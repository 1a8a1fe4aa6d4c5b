package dev.patchwork.patch;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

class LogitEntropyTest {
    /** −Σ p ln p with p = softmax(x), straight from the definition. */
    static double byDefinition(float[] x, int offset, int n) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) max = Math.max(max, x[offset + i]);
        double z = 0;
        for (int i = 0; i < n; i++) z += Math.exp(x[offset + i] - max);
        double h = 0;
        for (int i = 0; i < n; i++) {
            double p = Math.exp(x[offset + i] - max) / z;
            if (p > 0) h -= p * Math.log(p);
        }
        return h;
    }

    @Test
    void vectorAndScalarMatchTheDefinitionOnRaggedSizes() {
        SplittableRandom r = new SplittableRandom(9);
        for (int n : new int[]{1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 33, 64, 259, 260, 261}) {
            for (double scale : new double[]{0.01, 1, 10, 60}) {
                int offset = r.nextInt(5);
                float[] x = new float[offset + n + 3];
                for (int i = 0; i < x.length; i++) x[i] = (float) (scale * r.nextGaussian());
                double expected = byDefinition(x, offset, n);
                float scalar = LogitEntropy.entropyScalar(x, offset, n);
                float vector = LogitEntropy.entropyVector(x, offset, n);
                String what = "n " + n + " scale " + scale;
                assertEquals(expected, scalar, 1e-6 * Math.max(1, expected), what);
                assertEquals(scalar, vector, 1e-6 * Math.max(1, expected), what);
                assertTrue(vector >= -1e-6 && vector <= Math.log(n) + 1e-5, what + ": " + vector);
            }
        }
    }

    @Test
    void knownValues() {
        float[] uniform = new float[260];
        assertEquals(Math.log(260), LogitEntropy.entropyVector(uniform, 0, 260), 1e-6);
        assertEquals(Math.log(260), LogitEntropy.entropyScalar(uniform, 0, 260), 1e-6);
        float[] certain = new float[260];
        certain[17] = 200f; // all mass on one id
        assertEquals(0, LogitEntropy.entropyVector(certain, 0, 260), 1e-6);
        assertEquals(0, LogitEntropy.entropyScalar(certain, 0, 260), 1e-6);
        float[] two = new float[260];
        java.util.Arrays.fill(two, -1000f);
        two[3] = 5f;
        two[200] = 5f; // a fair coin
        assertEquals(Math.log(2), LogitEntropy.entropyVector(two, 0, 260), 1e-6);
    }

    @Test
    void rowsSkipPaddingAndUseTheirOwnRow() {
        SplittableRandom r = new SplittableRandom(2);
        int B = 3, T = 5, vocab = 37;
        float[] logits = new float[B * T * vocab];
        for (int i = 0; i < logits.length; i++) logits[i] = (float) r.nextGaussian();
        int[] lengths = {5, 2, 0};
        float[] out = new float[B * T];
        java.util.Arrays.fill(out, -7f);
        LogitEntropy.rows(logits, vocab, B, T, lengths, out);
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++) {
                int row = b * T + t;
                if (t < lengths[b]) assertEquals(byDefinition(logits, row * vocab, vocab), out[row], 1e-6, "row " + row);
                else assertEquals(-7f, out[row], "padded row " + row + " must be left alone");
            }
    }
}

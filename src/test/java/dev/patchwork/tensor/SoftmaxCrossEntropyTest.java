package dev.patchwork.tensor;

import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

import static dev.patchwork.tensor.KernelFixtures.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Softmax and cross-entropy against the same computation in double precision, the cross-entropy gradient against
 * finite differences, and the vector versions against the scalar twins (vocabulary 260, as our models: 16 lanes
 * leave a tail of 4). Tolerances: a few float ulps, 1e-5 relative (1e-6 absolute for probabilities).
 */
class SoftmaxCrossEntropyTest {
    @Test
    void softmaxMatchesDoubleAndScalar() {
        SplittableRandom rnd = new SplittableRandom(41);
        for (int cols : RAGGED) {
            for (int rows : new int[] {1, 4}) checkSoftmax(rnd, rows, cols);
        }
        checkSoftmax(rnd, 70, 260); // 18k floats: the multi-threaded path
    }

    private static void checkSoftmax(SplittableRandom rnd, int rows, int cols) {
        int off = 5;
        float[] x = randomFloats(rnd, off + rows * cols, 20);
        float[] expected = x.clone();
        for (int r = 0; r < rows; r++) {
            int b = off + r * cols;
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (int i = 0; i < cols; i++) max = Math.max(max, x[b + i]);
            for (int i = 0; i < cols; i++) sum += Math.exp(x[b + i] - max);
            for (int i = 0; i < cols; i++) expected[b + i] = (float) (Math.exp(x[b + i] - max) / sum);
        }
        float[] scalar = x.clone(), vector = x.clone();
        SoftmaxKernel.softmaxRowsScalar(scalar, off, rows, cols);
        SoftmaxKernel.softmaxRowsVector(vector, off, rows, cols);
        String shape = rows + "x" + cols;
        assertClose(expected, scalar, 1e-6, 1e-5, "scalar softmax vs double " + shape);
        assertClose(scalar, vector, 1e-6, 1e-5, "vector softmax vs scalar " + shape);
    }

    @Test
    void crossEntropyMatchesDoubleAndScalar() {
        SplittableRandom rnd = new SplittableRandom(42);
        for (int vocab : new int[] {1, 7, 17, 33, 260}) {
            for (int rows : new int[] {1, 5}) checkCrossEntropy(rnd, rows, vocab);
        }
        checkCrossEntropy(rnd, 80, 260); // 20k floats: the multi-threaded path
    }

    private static void checkCrossEntropy(SplittableRandom rnd, int rows, int vocab) {
        float[] logits = randomFloats(rnd, rows * vocab, 8);
        int targetsOff = 2;
        int[] targets = new int[targetsOff + rows];
        for (int r = 0; r < rows; r++) targets[targetsOff + r] = r % 3 == 2 ? -1 : rnd.nextInt(vocab); // some PAD
        float scale = 0.37f;
        float[] lossScalar = new float[rows], lossVector = new float[rows];
        float[] dScalar = new float[rows * vocab], dVector = randomFloats(rnd, rows * vocab, 1); // overwritten
        double totalScalar = CrossEntropyKernel.forwardBackwardScalar(logits, rows, vocab, targets, targetsOff,
                lossScalar, dScalar, scale);
        double totalVector = CrossEntropyKernel.forwardBackwardVector(logits, rows, vocab, targets, targetsOff,
                lossVector, dVector, scale);
        double lossOnly = CrossEntropyKernel.forwardBackwardVector(logits, rows, vocab, targets, targetsOff,
                null, null, scale);

        float[] expectedLoss = new float[rows], expectedGrad = new float[rows * vocab];
        double expectedTotal = 0;
        for (int r = 0; r < rows; r++) {
            int t = targets[targetsOff + r];
            if (t < 0) continue; // PAD: no loss, zero gradient
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (int i = 0; i < vocab; i++) max = Math.max(max, logits[r * vocab + i]);
            for (int i = 0; i < vocab; i++) sum += Math.exp(logits[r * vocab + i] - max);
            double lse = max + Math.log(sum);
            expectedLoss[r] = (float) (lse - logits[r * vocab + t]);
            expectedTotal += lse - logits[r * vocab + t];
            for (int i = 0; i < vocab; i++) {
                expectedGrad[r * vocab + i] = (float) ((Math.exp(logits[r * vocab + i] - lse) - (i == t ? 1 : 0)) * scale);
            }
        }
        String shape = rows + "x" + vocab;
        assertClose(expectedLoss, lossScalar, 1e-5, 1e-5, "scalar losses vs double " + shape);
        assertClose(expectedGrad, dScalar, 1e-6, 1e-5, "scalar gradient vs double " + shape);
        assertEquals(expectedTotal, totalScalar, 1e-5 * rows, "scalar total " + shape);
        assertClose(lossScalar, lossVector, 1e-5, 1e-5, "vector losses " + shape);
        assertClose(dScalar, dVector, 1e-6, 1e-5, "vector gradient " + shape);
        assertEquals(totalScalar, totalVector, 1e-5 * rows, "vector total " + shape);
        assertEquals(totalVector, lossOnly, 0, "loss without gradient " + shape);
    }

    @Test
    void scalarGradientMatchesFiniteDifferences() {
        SplittableRandom rnd = new SplittableRandom(43);
        int rows = 3, vocab = 11;
        float scale = 0.5f;
        float[] logits = randomFloats(rnd, rows * vocab, 3);
        int[] targets = {4, -1, 10};
        float[] dlogits = new float[logits.length];
        CrossEntropyKernel.forwardBackwardScalar(logits, rows, vocab, targets, 0, null, dlogits, scale);
        KernelFixtures.Loss loss = z -> {
            double total = 0;
            for (int r = 0; r < rows; r++) {
                if (targets[r] < 0) continue;
                double sum = 0;
                for (int i = 0; i < vocab; i++) sum += Math.exp(z[r * vocab + i]);
                total += Math.log(sum) - z[r * vocab + targets[r]];
            }
            return total * scale;
        };
        assertGradient(centralDifferences(loss, logits, 1e-4), dlogits, 1e-4, "dlogits");
    }

    @Test
    void targetsOutsideTheVocabularyAreRejected() {
        float[] logits = new float[2 * 5];
        int[] targets = {1, 5};
        assertThrows(IllegalArgumentException.class,
                () -> CrossEntropyKernel.forwardBackward(logits, 2, 5, targets, 0, null, null, 1f));
        assertThrows(IllegalArgumentException.class,
                () -> CrossEntropyKernel.forwardBackwardScalar(logits, 2, 5, targets, 0, null, null, 1f));
        assertThrows(IllegalArgumentException.class,
                () -> CrossEntropyKernel.forwardBackwardVector(logits, 2, 5, targets, 0, null, null, 1f));
    }
}

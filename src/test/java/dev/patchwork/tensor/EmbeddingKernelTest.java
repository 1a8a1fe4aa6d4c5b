package dev.patchwork.tensor;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

import static dev.patchwork.tensor.KernelFixtures.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Embedding scatter-add: the vector version adds every float in the same order as the scalar twin (bit-identical). */
class EmbeddingKernelTest {
    @Test
    void vectorScatterAddMatchesScalarExactlyWithRepeatedIds() {
        SplittableRandom rnd = new SplittableRandom(51);
        for (int dim : RAGGED) check(rnd, 9, dim, 20);
        check(rnd, 13, 130, 300); // 39k floats: columns split across threads
    }

    private static void check(SplittableRandom rnd, int vocab, int dim, int n) {
        int gradOff = 3, idsOff = 1, dOutOff = 2;
        int[] ids = new int[idsOff + n];
        for (int i = 0; i < n; i++) ids[idsOff + i] = rnd.nextInt(vocab); // n > vocab: ids repeat
        float[] dOut = randomFloats(rnd, dOutOff + n * dim, 1);
        float[] grad0 = randomFloats(rnd, gradOff + vocab * dim, 1);
        MemorySegment scalar = segmentOf(grad0), vector = segmentOf(grad0);
        EmbeddingKernel.scatterAddScalar(scalar, gradOff, dim, ids, idsOff, n, dOut, dOutOff);
        EmbeddingKernel.scatterAddVector(vector, gradOff, dim, ids, idsOff, n, dOut, dOutOff);
        assertArrayEquals(toArray(scalar), toArray(vector), "dim " + dim + ", n " + n);
    }

    @Test
    void scatterAddOfGatheredRowsSumsPerId() {
        SplittableRandom rnd = new SplittableRandom(52);
        int vocab = 4, dim = 19;
        float[] table = randomFloats(rnd, vocab * dim, 1);
        int[] ids = {2, 0, 2, 2};
        float[] rows = new float[ids.length * dim];
        EmbeddingKernel.gather(segmentOf(table), 0, vocab, dim, ids, 0, ids.length, rows, 0);
        MemorySegment grad = segmentOf(new float[vocab * dim]);
        EmbeddingKernel.scatterAdd(grad, 0, dim, ids, 0, ids.length, rows, 0);
        float[] expected = new float[vocab * dim];
        for (int j = 0; j < dim; j++) {
            expected[j] = table[j];
            expected[2 * dim + j] = table[2 * dim + j] * 3;
        }
        assertClose(expected, toArray(grad), 0, 1e-6, "gradient rows");
    }

    @Test
    void idsWithoutAGradientRowAreRejected() {
        MemorySegment grad = segmentOf(new float[4 * 8]);
        float[] dOut = new float[8];
        assertThrows(IllegalArgumentException.class,
                () -> EmbeddingKernel.scatterAdd(grad, 0, 8, new int[] {-1}, 0, 1, dOut, 0));
        assertThrows(IllegalArgumentException.class,
                () -> EmbeddingKernel.scatterAddScalar(grad, 0, 8, new int[] {4}, 0, 1, dOut, 0));
        assertThrows(IllegalArgumentException.class,
                () -> EmbeddingKernel.scatterAddVector(grad, 0, 8, new int[] {4}, 0, 1, dOut, 0));
    }
}

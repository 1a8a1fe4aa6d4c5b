package dev.patchwork.tensor;

import java.lang.foreign.MemorySegment;

import static dev.patchwork.tensor.ParameterBuffer.F32;

/** Embedding table rows gathered by id (forward) and scatter-added (backward). Table rows have {@code dim} floats. */
public final class EmbeddingKernel {
    private EmbeddingKernel() {}

    /** {@code out[i] = table[ids[i]]} for i in [0, n). */
    public static void gather(MemorySegment table, long tableOff, int vocab, int dim, int[] ids, int idsOff, int n,
                              float[] out, int outOff) {
        for (int i = 0; i < n; i++) {
            int id = ids[idsOff + i];
            if (id < 0 || id >= vocab)
                throw new IllegalArgumentException("token id " + id + " at position " + i + " is outside the vocabulary [0," + vocab + ")");
            MemorySegment.copy(table, F32, (tableOff + (long) id * dim) * Float.BYTES, out, outOff + i * dim, dim);
        }
    }

    /** {@code grad[ids[i]] += dOut[i]}. Serial: rows may repeat, and the order must not depend on threads. */
    public static void scatterAdd(MemorySegment grad, long gradOff, int dim, int[] ids, int idsOff, int n,
                                  float[] dOut, int dOutOff) {
        for (int i = 0; i < n; i++) {
            long row = gradOff + (long) ids[idsOff + i] * dim;
            int src = dOutOff + i * dim;
            for (int j = 0; j < dim; j++) grad.setAtIndex(F32, row + j, grad.getAtIndex(F32, row + j) + dOut[src + j]);
        }
    }
}

package dev.patchwork.tensor;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import static dev.patchwork.tensor.ParameterBuffer.F32;

/** Embedding table rows gathered by id (forward) and scatter-added (backward). Table rows have {@code dim} floats. */
public final class EmbeddingKernel {
    private static final VectorSpecies<Float> F = Simd.F;
    private static final int LANES = Simd.LANES;

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

    /**
     * {@code grad[ids[i]] += dOut[i]} for i in [0, n). Ids may repeat, so rows are added in order i = 0, 1, ...; the
     * vector version splits the embedding <em>columns</em> across threads instead of the rows, which keeps every
     * float's additions in that order (bit-identical to the scalar twin, whatever the thread count).
     */
    public static void scatterAdd(MemorySegment grad, long gradOff, int dim, int[] ids, int idsOff, int n,
                                  float[] dOut, int dOutOff) {
        if (Simd.SCALAR) scatterAddScalar(grad, gradOff, dim, ids, idsOff, n, dOut, dOutOff);
        else scatterAddVector(grad, gradOff, dim, ids, idsOff, n, dOut, dOutOff);
    }

    public static void scatterAddScalar(MemorySegment grad, long gradOff, int dim, int[] ids, int idsOff, int n,
                                        float[] dOut, int dOutOff) {
        checkIds(grad, gradOff, dim, ids, idsOff, n);
        for (int i = 0; i < n; i++) {
            long row = gradOff + (long) ids[idsOff + i] * dim;
            int src = dOutOff + i * dim;
            for (int j = 0; j < dim; j++) grad.setAtIndex(F32, row + j, grad.getAtIndex(F32, row + j) + dOut[src + j]);
        }
    }

    static void scatterAddVector(MemorySegment grad, long gradOff, int dim, int[] ids, int idsOff, int n,
                                 float[] dOut, int dOutOff) {
        checkIds(grad, gradOff, dim, ids, idsOff, n);
        int blocks = (dim + LANES - 1) / LANES; // column blocks of one vector each; only the last may be partial
        Columns body = COLUMNS.get();
        body.set(grad, gradOff, dim, ids, idsOff, n, dOut, dOutOff);
        try {
            ParallelRows.forRows(blocks, (long) n * LANES, body);
        } finally {
            body.set(null, 0, 0, null, 0, 0, null, 0);
        }
    }

    /** The column-block loop as one reusable object per calling thread: a capturing lambda would allocate per call. */
    private static final class Columns implements Parallel.RangeBody {
        private MemorySegment grad;
        private long gradOff;
        private int dim, idsOff, n, dOutOff;
        private int[] ids;
        private float[] dOut;

        void set(MemorySegment grad, long gradOff, int dim, int[] ids, int idsOff, int n, float[] dOut, int dOutOff) {
            this.grad = grad;
            this.gradOff = gradOff;
            this.dim = dim;
            this.ids = ids;
            this.idsOff = idsOff;
            this.n = n;
            this.dOut = dOut;
            this.dOutOff = dOutOff;
        }

        @Override
        public void run(int b0, int b1) {
            addColumns(grad, gradOff, dim, ids, idsOff, n, dOut, dOutOff, b0 * LANES, Math.min(b1 * LANES, dim));
        }
    }

    private static final ThreadLocal<Columns> COLUMNS = ThreadLocal.withInitial(Columns::new);

    /** Adds columns {@code [c0, c1)} of every {@code dOut} row into its {@code grad} row, rows in order. */
    private static void addColumns(MemorySegment grad, long gradOff, int dim, int[] ids, int idsOff, int n,
                                   float[] dOut, int dOutOff, int c0, int c1) {
        for (int i = 0; i < n; i++) {
            long row = gradOff + (long) ids[idsOff + i] * dim;
            int src = dOutOff + i * dim;
            int j = c0;
            for (; j <= c1 - LANES; j += LANES) {
                long at = (row + j) * Float.BYTES;
                FloatVector.fromMemorySegment(F, grad, at, ByteOrder.LITTLE_ENDIAN)
                        .add(FloatVector.fromArray(F, dOut, src + j))
                        .intoMemorySegment(grad, at, ByteOrder.LITTLE_ENDIAN);
            }
            for (; j < c1; j++) grad.setAtIndex(F32, row + j, grad.getAtIndex(F32, row + j) + dOut[src + j]);
        }
    }

    private static void checkIds(MemorySegment grad, long gradOff, int dim, int[] ids, int idsOff, int n) {
        long rowsInSegment = (grad.byteSize() / Float.BYTES - gradOff) / Math.max(dim, 1);
        for (int i = 0; i < n; i++) {
            int id = ids[idsOff + i];
            if (id < 0 || id >= rowsInSegment)
                throw new IllegalArgumentException("token id " + id + " at position " + i
                        + " has no gradient row (the gradient segment holds " + rowsInSegment + " rows of " + dim + ")");
        }
    }
}

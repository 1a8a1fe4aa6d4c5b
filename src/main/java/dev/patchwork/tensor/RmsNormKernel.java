package dev.patchwork.tensor;

import java.lang.foreign.MemorySegment;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import static dev.patchwork.tensor.ParameterBuffer.F32;

/**
 * RMSNorm over rows of {@code d} values: {@code y = x / sqrt(mean(x²) + eps) * w}, as torch's {@code nn.RMSNorm}.
 * Forward stores the reciprocal RMS of every row ({@code rstd}) for the backward pass.
 *
 * <p>The vector versions split rows across threads. The weight gradient sums over rows, so each thread sums its rows
 * into its own partial {@code dw}, and the partials are added to {@code dw} in thread order afterwards (deterministic
 * for a fixed thread count; the scalar twin adds row by row, so the two differ by float rounding only).
 */
public final class RmsNormKernel {
    private static final VectorSpecies<Float> F = Simd.F;
    private static final int LANES = Simd.LANES;

    private RmsNormKernel() {}

    /** {@code y = x / rms(x) * w} per row; {@code rstd[r]} receives the row's reciprocal RMS (rstd may be null). */
    public static void forward(float[] x, int xOff, MemorySegment w, long wOff, float[] y, int yOff,
                               float[] rstd, int rows, int d, float eps) {
        if (Simd.SCALAR) forwardScalar(x, xOff, w, wOff, y, yOff, rstd, rows, d, eps);
        else forwardVector(x, xOff, w, wOff, y, yOff, rstd, rows, d, eps);
    }

    /** {@code dx += ∂L/∂x}; {@code dw += ∂L/∂w} (dw may be null when the weight is frozen). */
    public static void backward(float[] dy, int dyOff, float[] x, int xOff, MemorySegment w, long wOff, float[] rstd,
                                float[] dx, int dxOff, MemorySegment dw, long dwOff, int rows, int d) {
        if (Simd.SCALAR) backwardScalar(dy, dyOff, x, xOff, w, wOff, rstd, dx, dxOff, dw, dwOff, rows, d);
        else backwardVector(dy, dyOff, x, xOff, w, wOff, rstd, dx, dxOff, dw, dwOff, rows, d);
    }

    public static void forwardScalar(float[] x, int xOff, MemorySegment w, long wOff, float[] y, int yOff,
                                     float[] rstd, int rows, int d, float eps) {
        for (int r = 0; r < rows; r++) {
            int xr = xOff + r * d;
            float ss = 0f;
            for (int i = 0; i < d; i++) ss += x[xr + i] * x[xr + i];
            float s = (float) (1.0 / Math.sqrt(ss / d + eps));
            if (rstd != null) rstd[r] = s;
            int yr = yOff + r * d;
            for (int i = 0; i < d; i++) y[yr + i] = x[xr + i] * s * w.getAtIndex(F32, wOff + i);
        }
    }

    public static void backwardScalar(float[] dy, int dyOff, float[] x, int xOff, MemorySegment w, long wOff,
                                      float[] rstd, float[] dx, int dxOff, MemorySegment dw, long dwOff,
                                      int rows, int d) {
        for (int r = 0; r < rows; r++) {
            int xr = xOff + r * d, gr = dyOff + r * d, dr = dxOff + r * d;
            float s = rstd[r];
            // y_i = x_i s w_i with s = (mean(x²)+eps)^-1/2  ⇒  dx_i = s (w_i dy_i) − x_i s³/d Σ_j (w_j dy_j x_j)
            float dot = 0f;
            for (int i = 0; i < d; i++) dot += w.getAtIndex(F32, wOff + i) * dy[gr + i] * x[xr + i];
            float c = dot * s * s * s / d;
            for (int i = 0; i < d; i++) dx[dr + i] += s * w.getAtIndex(F32, wOff + i) * dy[gr + i] - c * x[xr + i];
            if (dw != null) {
                for (int i = 0; i < d; i++) {
                    long o = dwOff + i;
                    dw.setAtIndex(F32, o, dw.getAtIndex(F32, o) + dy[gr + i] * x[xr + i] * s);
                }
            }
        }
    }

    static void forwardVector(float[] x, int xOff, MemorySegment w, long wOff, float[] y, int yOff,
                              float[] rstd, int rows, int d, float eps) {
        Rows body = ROWS.get();
        body.forward(x, xOff, toArray(w, wOff, d), y, yOff, rstd, d, eps);
        try {
            ParallelRows.forRows(rows, d, body);
        } finally {
            body.release();
        }
    }

    static void backwardVector(float[] dy, int dyOff, float[] x, int xOff, MemorySegment w, long wOff, float[] rstd,
                               float[] dx, int dxOff, MemorySegment dw, long dwOff, int rows, int d) {
        float[] wa = toArray(w, wOff, d);
        int chunks = ParallelRows.chunks(rows, 3L * d);
        // chunk c owns [c*d, (c+1)*d) of the partial weight gradients
        float[] dwPartial = dw == null ? null : KernelScratch.floats(KernelScratch.RMS_WEIGHT_GRAD, chunks * d);
        if (dwPartial != null) java.util.Arrays.fill(dwPartial, 0, chunks * d, 0f);
        Rows body = ROWS.get();
        body.backward(dy, dyOff, x, xOff, wa, rstd, dx, dxOff, dwPartial, d);
        try {
            Parallel.forChunks(rows, chunks, body);
        } finally {
            body.release();
        }
        if (dw != null) {
            // Partial sums added in chunk order: deterministic for a fixed thread count.
            for (int c = 1; c < chunks; c++) VectorOps.addVector(dwPartial, 0, dwPartial, c * d, dwPartial, 0, d);
            for (int i = 0; i < d; i++) dw.setAtIndex(F32, dwOff + i, dw.getAtIndex(F32, dwOff + i) + dwPartial[i]);
        }
    }

    /**
     * The row loops of both directions as one reusable object per calling thread (a capturing lambda would allocate
     * per call); {@code dy == null} means forward.
     */
    private static final class Rows implements Parallel.RangeBody, Parallel.ChunkBody {
        private float[] x, wa, y, rstd, dy, dx, dwPartial;
        private int xOff, yOff, dyOff, dxOff, d;
        private float eps;

        void forward(float[] x, int xOff, float[] wa, float[] y, int yOff, float[] rstd, int d, float eps) {
            this.x = x;
            this.xOff = xOff;
            this.wa = wa;
            this.y = y;
            this.yOff = yOff;
            this.rstd = rstd;
            this.d = d;
            this.eps = eps;
            dy = null;
        }

        void backward(float[] dy, int dyOff, float[] x, int xOff, float[] wa, float[] rstd, float[] dx, int dxOff,
                      float[] dwPartial, int d) {
            this.dy = dy;
            this.dyOff = dyOff;
            this.x = x;
            this.xOff = xOff;
            this.wa = wa;
            this.rstd = rstd;
            this.dx = dx;
            this.dxOff = dxOff;
            this.dwPartial = dwPartial;
            this.d = d;
        }

        void release() { // drop references to caller data so a thread-local does not keep it alive
            x = wa = y = rstd = dy = dx = dwPartial = null;
        }

        @Override
        public void run(int r0, int r1) { // forward
            for (int r = r0; r < r1; r++) {
                int xr = xOff + r * d, yr = yOff + r * d;
                float ss = VectorOps.dotVector(x, xr, x, xr, d);
                float s = (float) (1.0 / Math.sqrt(ss / d + eps));
                if (rstd != null) rstd[r] = s;
                int i = 0;
                for (int bound = F.loopBound(d); i < bound; i += LANES) {
                    FloatVector.fromArray(F, x, xr + i).mul(s).mul(FloatVector.fromArray(F, wa, i)).intoArray(y, yr + i);
                }
                for (; i < d; i++) y[yr + i] = x[xr + i] * s * wa[i];
            }
        }

        @Override
        public void run(int c, int r0, int r1) { // backward
            for (int r = r0; r < r1; r++) {
                int xr = xOff + r * d, gr = dyOff + r * d;
                float s = rstd[r];
                float c3 = dotOfThree(wa, dy, gr, x, xr, d) * s * s * s / d;
                addInputGradient(wa, dy, gr, x, xr, s, c3, dx, dxOff + r * d, d);
                if (dwPartial != null) addWeightGradient(dy, gr, x, xr, s, dwPartial, c * d, d);
            }
        }
    }

    private static final ThreadLocal<Rows> ROWS = ThreadLocal.withInitial(Rows::new);

    /**
     * {@code Σ_i w_i dy_i x_i}, with four accumulators to hide the FMA latency. The products are written out rather
     * than in a helper returning a vector: when the JIT did not inline that helper, every vector it returned was
     * boxed (hundreds of KB per training step).
     */
    private static float dotOfThree(float[] w, float[] dy, int gr, float[] x, int xr, int d) {
        FloatVector acc0 = FloatVector.zero(F), acc1 = acc0, acc2 = acc0, acc3 = acc0;
        int i = 0;
        for (int bound4 = d - d % (4 * LANES); i < bound4; i += 4 * LANES) {
            acc0 = FloatVector.fromArray(F, w, i).mul(FloatVector.fromArray(F, dy, gr + i)).fma(FloatVector.fromArray(F, x, xr + i), acc0);
            acc1 = FloatVector.fromArray(F, w, i + LANES).mul(FloatVector.fromArray(F, dy, gr + i + LANES)).fma(FloatVector.fromArray(F, x, xr + i + LANES), acc1);
            acc2 = FloatVector.fromArray(F, w, i + 2 * LANES).mul(FloatVector.fromArray(F, dy, gr + i + 2 * LANES)).fma(FloatVector.fromArray(F, x, xr + i + 2 * LANES), acc2);
            acc3 = FloatVector.fromArray(F, w, i + 3 * LANES).mul(FloatVector.fromArray(F, dy, gr + i + 3 * LANES)).fma(FloatVector.fromArray(F, x, xr + i + 3 * LANES), acc3);
        }
        for (int bound = F.loopBound(d); i < bound; i += LANES) {
            acc0 = FloatVector.fromArray(F, w, i).mul(FloatVector.fromArray(F, dy, gr + i)).fma(FloatVector.fromArray(F, x, xr + i), acc0);
        }
        float dot = VectorMath.sum(acc0.add(acc1).add(acc2.add(acc3)));
        for (; i < d; i++) dot += w[i] * dy[gr + i] * x[xr + i];
        return dot;
    }

    /** {@code dx_i += s·w_i·dy_i − c3·x_i} for one row. */
    private static void addInputGradient(float[] w, float[] dy, int gr, float[] x, int xr, float s, float c3,
                                         float[] dx, int dr, int d) {
        int i = 0;
        for (int bound = F.loopBound(d); i < bound; i += LANES) {
            FloatVector g = FloatVector.fromArray(F, w, i).mul(s).mul(FloatVector.fromArray(F, dy, gr + i))
                    .sub(FloatVector.fromArray(F, x, xr + i).mul(c3));
            FloatVector.fromArray(F, dx, dr + i).add(g).intoArray(dx, dr + i);
        }
        for (; i < d; i++) dx[dr + i] += s * w[i] * dy[gr + i] - c3 * x[xr + i];
    }

    /** {@code part_i += dy_i·x_i·s} for one row. */
    private static void addWeightGradient(float[] dy, int gr, float[] x, int xr, float s, float[] part, int pOff,
                                          int d) {
        int i = 0;
        for (int bound = F.loopBound(d); i < bound; i += LANES) {
            FloatVector t = FloatVector.fromArray(F, dy, gr + i).mul(FloatVector.fromArray(F, x, xr + i)).mul(s);
            FloatVector.fromArray(F, part, pOff + i).add(t).intoArray(part, pOff + i);
        }
        for (; i < d; i++) part[pOff + i] += dy[gr + i] * x[xr + i] * s;
    }

    /**
     * The weight as a {@code float[]} (this thread's scratch, at least d long): one copy of d floats per call, so the
     * row loops read plain arrays. Loading the weight vectors from the segment inside the row loops measured 5× slower
     * for the backward pass (JDK 25).
     */
    private static float[] toArray(MemorySegment w, long wOff, int d) {
        float[] wa = KernelScratch.floats(KernelScratch.RMS_WEIGHT, d);
        MemorySegment.copy(w, F32, wOff * Float.BYTES, wa, 0, d);
        return wa;
    }
}

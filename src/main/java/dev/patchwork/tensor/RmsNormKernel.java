package dev.patchwork.tensor;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

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
        ParallelRows.forRows(rows, d, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int xr = xOff + r * d, yr = yOff + r * d;
                float ss = VectorOps.dotVector(x, xr, x, xr, d);
                float s = (float) (1.0 / Math.sqrt(ss / d + eps));
                if (rstd != null) rstd[r] = s;
                int i = 0;
                for (int bound = F.loopBound(d); i < bound; i += LANES) {
                    FloatVector.fromArray(F, x, xr + i).mul(s).mul(load(w, wOff + i)).intoArray(y, yr + i);
                }
                for (; i < d; i++) y[yr + i] = x[xr + i] * s * w.getAtIndex(F32, wOff + i);
            }
        });
    }

    static void backwardVector(float[] dy, int dyOff, float[] x, int xOff, MemorySegment w, long wOff, float[] rstd,
                               float[] dx, int dxOff, MemorySegment dw, long dwOff, int rows, int d) {
        int chunks = ParallelRows.chunks(rows, 3L * d);
        float[] dwPartial = dw == null ? null : new float[chunks * d]; // chunk c owns [c*d, (c+1)*d)
        Parallel.forChunks(rows, chunks, (c, r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                backwardRow(dy, dyOff + r * d, x, xOff + r * d, w, wOff, rstd[r], dx, dxOff + r * d,
                        dwPartial, c * d, d);
            }
        });
        if (dw != null) addPartials(dwPartial, chunks, dw, dwOff, d);
    }

    /** One row of the backward pass (see {@link #backwardScalar} for the formula); dw terms go to {@code part}. */
    private static void backwardRow(float[] dy, int gr, float[] x, int xr, MemorySegment w, long wOff, float s,
                                    float[] dx, int dr, float[] part, int pOff, int d) {
        // Σ_j w_j dy_j x_j, with four accumulators to hide the FMA latency.
        FloatVector acc0 = FloatVector.zero(F), acc1 = acc0, acc2 = acc0, acc3 = acc0;
        int i = 0;
        for (int bound4 = d - d % (4 * LANES); i < bound4; i += 4 * LANES) {
            acc0 = wdy(w, wOff, dy, gr, i).fma(FloatVector.fromArray(F, x, xr + i), acc0);
            acc1 = wdy(w, wOff, dy, gr, i + LANES).fma(FloatVector.fromArray(F, x, xr + i + LANES), acc1);
            acc2 = wdy(w, wOff, dy, gr, i + 2 * LANES).fma(FloatVector.fromArray(F, x, xr + i + 2 * LANES), acc2);
            acc3 = wdy(w, wOff, dy, gr, i + 3 * LANES).fma(FloatVector.fromArray(F, x, xr + i + 3 * LANES), acc3);
        }
        for (int bound = F.loopBound(d); i < bound; i += LANES) {
            acc0 = wdy(w, wOff, dy, gr, i).fma(FloatVector.fromArray(F, x, xr + i), acc0);
        }
        float dot = acc0.add(acc1).add(acc2.add(acc3)).reduceLanes(VectorOperators.ADD);
        for (; i < d; i++) dot += w.getAtIndex(F32, wOff + i) * dy[gr + i] * x[xr + i];
        float c = dot * s * s * s / d;

        i = 0;
        for (int bound = F.loopBound(d); i < bound; i += LANES) {
            FloatVector dyv = FloatVector.fromArray(F, dy, gr + i), xv = FloatVector.fromArray(F, x, xr + i);
            FloatVector g = load(w, wOff + i).mul(s).mul(dyv).sub(xv.mul(c));
            FloatVector.fromArray(F, dx, dr + i).add(g).intoArray(dx, dr + i);
            if (part != null) {
                FloatVector.fromArray(F, part, pOff + i).add(dyv.mul(xv).mul(s)).intoArray(part, pOff + i);
            }
        }
        for (; i < d; i++) {
            dx[dr + i] += s * w.getAtIndex(F32, wOff + i) * dy[gr + i] - c * x[xr + i];
            if (part != null) part[pOff + i] += dy[gr + i] * x[xr + i] * s;
        }
    }

    /** {@code dw += Σ_c part[c]}, adding the chunks' partial sums in chunk order. */
    private static void addPartials(float[] part, int chunks, MemorySegment dw, long dwOff, int d) {
        int i = 0;
        for (int bound = F.loopBound(d); i < bound; i += LANES) {
            FloatVector sum = FloatVector.fromArray(F, part, i);
            for (int c = 1; c < chunks; c++) sum = sum.add(FloatVector.fromArray(F, part, c * d + i));
            load(dw, dwOff + i).add(sum).intoMemorySegment(dw, (dwOff + i) * Float.BYTES, ByteOrder.LITTLE_ENDIAN);
        }
        for (; i < d; i++) {
            float sum = part[i];
            for (int c = 1; c < chunks; c++) sum += part[c * d + i];
            dw.setAtIndex(F32, dwOff + i, dw.getAtIndex(F32, dwOff + i) + sum);
        }
    }

    /** {@code w[i..] · dy[gr+i..]} as one vector. */
    private static FloatVector wdy(MemorySegment w, long wOff, float[] dy, int gr, int i) {
        return load(w, wOff + i).mul(FloatVector.fromArray(F, dy, gr + i));
    }

    /** Floats {@code [index, index + LANES)} of a little-endian segment. */
    private static FloatVector load(MemorySegment seg, long index) {
        return FloatVector.fromMemorySegment(F, seg, index * Float.BYTES, ByteOrder.LITTLE_ENDIAN);
    }
}

package dev.patchwork.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Numerically stable softmax of each row, in place: subtract the row maximum before exponentiating.
 *
 * <p>The vector version uses the Vector API's {@code EXP} and sums in a different order than the scalar twin, so the
 * two differ by float rounding only (a few ulps per value).
 */
public final class SoftmaxKernel {
    private static final VectorSpecies<Float> F = Simd.F;
    private static final int LANES = Simd.LANES;

    private SoftmaxKernel() {}

    public static void softmaxRows(float[] x, int off, int rows, int cols) {
        if (Simd.SCALAR) softmaxRowsScalar(x, off, rows, cols);
        else softmaxRowsVector(x, off, rows, cols);
    }

    public static void softmaxRowsScalar(float[] x, int off, int rows, int cols) {
        for (int r = 0; r < rows; r++) {
            int b = off + r * cols;
            float max = Float.NEGATIVE_INFINITY;
            for (int i = 0; i < cols; i++) max = Math.max(max, x[b + i]);
            float sum = 0f;
            for (int i = 0; i < cols; i++) {
                float e = (float) Math.exp(x[b + i] - max);
                x[b + i] = e;
                sum += e;
            }
            float inv = 1f / sum;
            for (int i = 0; i < cols; i++) x[b + i] *= inv;
        }
    }

    static void softmaxRowsVector(float[] x, int off, int rows, int cols) {
        ParallelRows.forRows(rows, cols, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int b = off + r * cols;
                float max = max(x, b, cols);
                float inv = 1f / expShifted(x, b, cols, max, x, b);
                VectorOps.scaleVector(x, b, cols, inv);
            }
        });
    }

    /** The largest of {@code x[b .. b+n)} ({@code -∞} when n is 0). */
    static float max(float[] x, int b, int n) {
        FloatVector acc = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += LANES) acc = acc.max(FloatVector.fromArray(F, x, b + i));
        float max = acc.reduceLanes(VectorOperators.MAX);
        for (; i < n; i++) max = Math.max(max, x[b + i]);
        return max;
    }

    /**
     * Writes {@code out[o+i] = exp(x[b+i] − shift)} for i in [0, n) ({@code out} may be {@code x}) and returns their
     * sum. One accumulator is enough here: the exponential, not the addition, limits the loop.
     */
    static float expShifted(float[] x, int b, int n, float shift, float[] out, int o) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += LANES) {
            FloatVector e = VectorMath.exp(FloatVector.fromArray(F, x, b + i).sub(shift));
            e.intoArray(out, o + i);
            acc = acc.add(e);
        }
        float sum = VectorMath.sum(acc);
        for (; i < n; i++) {
            float e = (float) Math.exp(x[b + i] - shift);
            out[o + i] = e;
            sum += e;
        }
        return sum;
    }
}

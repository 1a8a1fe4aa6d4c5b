package dev.patchwork.tensor;

/** Numerically stable softmax of each row, in place: subtract the row maximum before exponentiating. */
public final class SoftmaxKernel {
    private SoftmaxKernel() {}

    public static void softmaxRows(float[] x, int off, int rows, int cols) {
        softmaxRowsScalar(x, off, rows, cols);
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
}

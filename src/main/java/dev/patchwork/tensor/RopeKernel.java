package dev.patchwork.tensor;

/**
 * Rotary position embedding with <b>interleaved pairs</b> (spec §3; not Llama's half split): for position t the pair
 * {@code (x[2i], x[2i+1])} of every head is rotated by the angle {@code t·f_i}.
 */
public final class RopeKernel {
    private RopeKernel() {}

    /**
     * Rotates {@code rows} consecutive rows in place; row r has position {@code startPos + r}. In each row, the
     * {@code heads} heads of {@code table.headDim()} values start at {@code off + r*stride}.
     *
     * @param inverse rotate by −angle: the backward pass (the rotation is orthogonal, so its gradient is its inverse)
     */
    public static void apply(float[] x, int off, int stride, int rows, int heads, int startPos, RopeTable table,
                             boolean inverse) {
        applyScalar(x, off, stride, rows, heads, startPos, table, inverse);
    }

    public static void applyScalar(float[] x, int off, int stride, int rows, int heads, int startPos,
                                   RopeTable table, boolean inverse) {
        int hd = table.headDim(), half = hd / 2;
        if (startPos + rows > table.maxPositions())
            throw new IllegalArgumentException("position " + (startPos + rows - 1) + " is past the RoPE table ("
                    + table.maxPositions() + " positions, max_seqlen)");
        float[] cos = table.cos(), sin = table.sin();
        float sign = inverse ? -1f : 1f;
        for (int r = 0; r < rows; r++) {
            int t = (startPos + r) * half;
            for (int h = 0; h < heads; h++) {
                int base = off + r * stride + h * hd;
                for (int i = 0; i < half; i++) {
                    float c = cos[t + i], s = sign * sin[t + i];
                    float a = x[base + 2 * i], b = x[base + 2 * i + 1];
                    x[base + 2 * i] = a * c - b * s;
                    x[base + 2 * i + 1] = a * s + b * c;
                }
            }
        }
    }
}

package dev.patchwork.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Rotary position embedding with <b>interleaved pairs</b> (spec §3; not Llama's half split): for position t the pair
 * {@code (x[2i], x[2i+1])} of every head is rotated by the angle {@code t·f_i}.
 *
 * <p>The vector version swaps neighbouring lanes with one shuffle and multiplies by the per-lane tables of
 * {@link RopeTable}; it does the same float multiplications and additions as the scalar twin, so the two agree bit
 * for bit.
 */
public final class RopeKernel {
    private static final VectorSpecies<Float> F = Simd.F;
    private static final int LANES = Simd.LANES;
    /** Lane j takes lane j^1: (x0, x1, x2, x3, ...) → (x1, x0, x3, x2, ...). Species have an even lane count. */
    private static final VectorShuffle<Float> SWAP_PAIRS = VectorShuffle.fromOp(F, j -> j ^ 1);

    private RopeKernel() {}

    /**
     * Rotates {@code rows} consecutive rows in place; row r has position {@code startPos + r}. In each row, the
     * {@code heads} heads of {@code table.headDim()} values start at {@code off + r*stride}.
     *
     * @param inverse rotate by −angle: the backward pass (the rotation is orthogonal, so its gradient is its inverse)
     */
    public static void apply(float[] x, int off, int stride, int rows, int heads, int startPos, RopeTable table,
                             boolean inverse) {
        if (Simd.SCALAR) applyScalar(x, off, stride, rows, heads, startPos, table, inverse);
        else applyVector(x, off, stride, rows, rows, heads, startPos, table, inverse);
    }

    /**
     * Rotates a batch of {@code sequences} sequences of {@code T} consecutive rows each, starting at row 0 of
     * {@code x}, positions restarting at 0 in every sequence (row r has position {@code r % T}): the same as one
     * {@link #apply} per sequence, in one pass over the team instead of one hand-off per sequence.
     */
    public static void applyPerSequence(float[] x, int stride, int sequences, int T, int heads, RopeTable table,
                                        boolean inverse) {
        if (Simd.SCALAR) {
            for (int b = 0; b < sequences; b++) applyScalar(x, b * T * stride, stride, T, heads, 0, table, inverse);
        } else {
            applyVector(x, 0, stride, sequences * T, T, heads, 0, table, inverse);
        }
    }

    public static void applyScalar(float[] x, int off, int stride, int rows, int heads, int startPos,
                                   RopeTable table, boolean inverse) {
        checkPositions(rows, startPos, table);
        int hd = table.headDim(), half = hd / 2;
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

    /** Rows {@code [0, rows)} at {@code off}; row r has position {@code startPos + r % period}. */
    static void applyVector(float[] x, int off, int stride, int rows, int period, int heads, int startPos,
                            RopeTable table, boolean inverse) {
        checkPositions(Math.min(rows, period), startPos, table);
        int hd = table.headDim();
        Rows body = ROWS.get();
        body.set(x, off, stride, heads, startPos, Math.max(1, period), table, inverse);
        try {
            ParallelRows.forRows(rows, (long) heads * hd, body);
        } finally {
            body.set(null, 0, 0, 0, 0, 1, null, false);
        }
    }

    /** The row loop as one reusable object per calling thread: a capturing lambda would allocate per call. */
    private static final class Rows implements Parallel.RangeBody {
        private float[] x;
        private int off, stride, heads, startPos, period;
        private RopeTable table;
        private boolean inverse;

        void set(float[] x, int off, int stride, int heads, int startPos, int period, RopeTable table, boolean inverse) {
            this.x = x;
            this.off = off;
            this.stride = stride;
            this.heads = heads;
            this.startPos = startPos;
            this.period = period;
            this.table = table;
            this.inverse = inverse;
        }

        @Override
        public void run(int r0, int r1) {
            int hd = table.headDim();
            for (int r = r0; r < r1; r++) {
                int pos = startPos + r % period;
                for (int h = 0; h < heads; h++) rotateHead(x, off + r * stride + h * hd, pos, table, inverse);
            }
        }
    }

    private static final ThreadLocal<Rows> ROWS = ThreadLocal.withInitial(Rows::new);

    /** Rotates the {@code hd} values of one head at {@code base} for position {@code pos}. */
    private static void rotateHead(float[] x, int base, int pos, RopeTable table, boolean inverse) {
        int hd = table.headDim();
        float[] cosI = table.cosInterleaved(), sinS = table.sinSigned();
        int t = pos * hd;
        // Even lane 2i: a·c + b·(−s); odd lane 2i+1: b·c + a·s. The inverse flips the sign of s, which is exact.
        // One expression for both directions keeps the loop free of branches.
        float sign = inverse ? -1f : 1f;
        int j = 0;
        for (int bound = F.loopBound(hd); j < bound; j += LANES) {
            FloatVector v = FloatVector.fromArray(F, x, base + j);
            FloatVector sin = FloatVector.fromArray(F, sinS, t + j).mul(sign);
            v.mul(FloatVector.fromArray(F, cosI, t + j)).add(v.rearrange(SWAP_PAIRS).mul(sin)).intoArray(x, base + j);
        }
        // Tail (head sizes that are not a multiple of the lane count): loopBound is even, so pairs stay whole.
        float[] cos = table.cos(), sin = table.sin();
        for (int i = j / 2; i < hd / 2; i++) {
            float c = cos[pos * (hd / 2) + i], s = sign * sin[pos * (hd / 2) + i];
            float a = x[base + 2 * i], b = x[base + 2 * i + 1];
            x[base + 2 * i] = a * c - b * s;
            x[base + 2 * i + 1] = a * s + b * c;
        }
    }

    private static void checkPositions(int rows, int startPos, RopeTable table) {
        if (startPos < 0) throw new IllegalArgumentException("RoPE start position must be >= 0, got " + startPos);
        if (startPos + rows > table.maxPositions())
            throw new IllegalArgumentException("position " + (startPos + rows - 1) + " is past the RoPE table ("
                    + table.maxPositions() + " positions, max_seqlen)");
    }
}

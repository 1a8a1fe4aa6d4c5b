package dev.patchwork.tensor;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Kernels that read weights in their stored {@link WeightFormat} (BF16, F16 or F32 in a mapped checkpoint):
 * widening to float32, {@code y = x·Wᵀ} for a few rows (generation and short prompts), and embedding-row lookup.
 *
 * <p>Widening BF16 is a 16-bit left shift of each value into a float's upper half: a {@link ShortVector} load
 * sign-extended to ints ({@code S2I}), shifted, reinterpreted as floats. F16 has no such trick in the Vector API, so
 * both twins decode it value by value ({@link Float#float16ToFloat}); only BF16 and F32 have a vector path.
 *
 * <p>The product dots each weight row with every input row, widening BF16 in registers: each weight byte is read from
 * memory once (the other input rows find the row in L1), which is what a memory-bound product needs, and a BF16 row
 * costs half the traffic of a float32 one. F16 rows are widened once into a small scratch instead. Every output value is computed by one thread, so results do not depend on the thread
 * count. Offsets into weights are {@code long}: a BF16 hash table can hold more than 2^31 values.
 */
public final class MappedGemv {
    /** Below this many multiply-adds the products run on the calling thread. */
    private static final long PARALLEL_MIN_FMAS = 1L << 18;

    private static final VectorSpecies<Float> F = Simd.F;
    private static final int L = F.length();
    private static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());
    /** Shorts with as many lanes as {@link #F}: half its bits. */
    private static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorShape.forBitSize(F.vectorBitSize() / 2));
    private static final ByteOrder ORDER = ByteOrder.LITTLE_ENDIAN;

    private MappedGemv() {}

    /** {@code dst[dstOff + i] = w[from + i]} as floats, for i in [0, n). */
    public static void widen(MappedWeight w, long from, float[] dst, int dstOff, int n) {
        checkRange(w, from, n);
        if (Simd.SCALAR) widenScalar(w, from, dst, dstOff, n);
        else widenVector(w, from, dst, dstOff, n);
    }

    /** Plain twin of {@link #widen}. */
    public static void widenScalar(MappedWeight w, long from, float[] dst, int dstOff, int n) {
        checkRange(w, from, n);
        MemorySegment d = w.data();
        WeightFormat f = w.format();
        for (int i = 0; i < n; i++) dst[dstOff + i] = f.get(d, from + i);
    }

    private static void widenVector(MappedWeight w, long from, float[] dst, int dstOff, int n) {
        MemorySegment d = w.data();
        switch (w.format()) {
            case F32 -> MemorySegment.copy(d, ParameterBuffer.F32, from * Float.BYTES, dst, dstOff, n);
            case F16 -> {
                for (int i = 0; i < n; i++) dst[dstOff + i] = Float.float16ToFloat(d.getAtIndex(WeightFormat.U16, from + i));
            }
            case BF16 -> {
                int i = 0;
                for (int end = n - L; i <= end; i += L) bf16(d, (from + i) * 2).intoArray(dst, dstOff + i);
                for (; i < n; i++) dst[dstOff + i] = Float.intBitsToFloat(d.getAtIndex(WeightFormat.U16, from + i) << 16);
            }
        }
    }

    /** {@link #L} BF16 values at byte {@code b} widened to floats: shift each 16-bit pattern into the upper half. */
    private static FloatVector bf16(MemorySegment d, long b) {
        ShortVector s = ShortVector.fromMemorySegment(S, d, b, ORDER);
        return ((IntVector) s.convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    /**
     * {@code y[yOff + i·ldy + n] (+)= Σ_k x[xOff + i·in + k] · W[n, k]} for rows i in [0, rows) and n in [0, out),
     * with {@code W[out, in]} row-major in {@code w}; {@code +=} when {@code accumulate}. {@code ldy} lets several
     * matrices write side by side into one fused output row (wq | wk | wv).
     */
    public static void xwT(float[] y, int yOff, int ldy, float[] x, int xOff, MappedWeight w, int rows, int out, int in,
                           boolean accumulate) {
        checkShape(w, out, in);
        if (Simd.SCALAR) {
            xwTScalar(y, yOff, ldy, x, xOff, w, rows, out, in, accumulate);
            return;
        }
        MemorySegment d = w.data();
        WeightFormat format = w.format();
        Parallel.RangeBody body = (n0, n1) -> {
            // F16 has no vector decoding: widen each row once into a scratch that every input row then reads from L1
            float[] row = format == WeightFormat.F16 ? new float[in] : null;
            for (int n = n0; n < n1; n++) {
                long wb = (long) n * in * format.byteSize();
                if (row != null) widenVector(w, (long) n * in, row, 0, in);
                for (int i = 0; i < rows; i++) {
                    int xo = xOff + i * in;
                    float s = switch (format) {
                        case BF16 -> dotBf16(x, xo, d, wb, in);
                        case F32 -> dotF32(x, xo, d, wb, in);
                        case F16 -> dot(x, xo, row, in);
                    };
                    int o = yOff + i * ldy + n;
                    y[o] = accumulate ? y[o] + s : s;
                }
            }
        };
        if ((long) rows * out * in < PARALLEL_MIN_FMAS || !GemmEngine.sharedAcrossThreads(w.data())) body.run(0, out);
        else Parallel.forRange(out, body);
    }

    /** Plain twin of {@link #xwT}: one value at a time, one accumulator. */
    public static void xwTScalar(float[] y, int yOff, int ldy, float[] x, int xOff, MappedWeight w, int rows, int out,
                                 int in, boolean accumulate) {
        checkShape(w, out, in);
        MemorySegment d = w.data();
        WeightFormat f = w.format();
        for (int n = 0; n < out; n++) {
            long base = (long) n * in;
            for (int i = 0; i < rows; i++) {
                float s = 0;
                for (int k = 0; k < in; k++) s += x[xOff + i * in + k] * f.get(d, base + k);
                int o = yOff + i * ldy + n;
                y[o] = accumulate ? y[o] + s : s;
            }
        }
    }

    /**
     * {@code Σ x[xo+k]·W[k]} over n BF16 values starting at byte {@code wb}, widened in registers: the weights cross
     * the memory bus at 2 bytes a value. Four accumulators hide the FMA latency.
     */
    private static float dotBf16(float[] x, int xo, MemorySegment w, long wb, int n) {
        FloatVector s0 = FloatVector.zero(F), s1 = s0, s2 = s0, s3 = s0;
        int k = 0;
        for (int end = n - 4 * L; k <= end; k += 4 * L) {
            long b = wb + 2L * k;
            s0 = FloatVector.fromArray(F, x, xo + k).fma(bf16(w, b), s0);
            s1 = FloatVector.fromArray(F, x, xo + k + L).fma(bf16(w, b + 2L * L), s1);
            s2 = FloatVector.fromArray(F, x, xo + k + 2 * L).fma(bf16(w, b + 4L * L), s2);
            s3 = FloatVector.fromArray(F, x, xo + k + 3 * L).fma(bf16(w, b + 6L * L), s3);
        }
        for (int end = n - L; k <= end; k += L) s0 = FloatVector.fromArray(F, x, xo + k).fma(bf16(w, wb + 2L * k), s0);
        float s = VectorMath.sum(s0.add(s1).add(s2.add(s3)));
        for (; k < n; k++) s += x[xo + k] * Float.intBitsToFloat(w.get(WeightFormat.U16, wb + 2L * k) << 16);
        return s;
    }

    /** {@code Σ x[xo+k]·W[k]} over n floats starting at byte {@code wb} of a mapped float32 matrix. */
    private static float dotF32(float[] x, int xo, MemorySegment w, long wb, int n) {
        FloatVector s0 = FloatVector.zero(F), s1 = s0, s2 = s0, s3 = s0;
        int k = 0;
        for (int end = n - 4 * L; k <= end; k += 4 * L) {
            long b = wb + 4L * k;
            s0 = FloatVector.fromArray(F, x, xo + k).fma(FloatVector.fromMemorySegment(F, w, b, ORDER), s0);
            s1 = FloatVector.fromArray(F, x, xo + k + L).fma(FloatVector.fromMemorySegment(F, w, b + 4L * L, ORDER), s1);
            s2 = FloatVector.fromArray(F, x, xo + k + 2 * L).fma(FloatVector.fromMemorySegment(F, w, b + 8L * L, ORDER), s2);
            s3 = FloatVector.fromArray(F, x, xo + k + 3 * L).fma(FloatVector.fromMemorySegment(F, w, b + 12L * L, ORDER), s3);
        }
        for (int end = n - L; k <= end; k += L)
            s0 = FloatVector.fromArray(F, x, xo + k).fma(FloatVector.fromMemorySegment(F, w, wb + 4L * k, ORDER), s0);
        float s = VectorMath.sum(s0.add(s1).add(s2.add(s3)));
        for (; k < n; k++) s += x[xo + k] * w.get(ParameterBuffer.F32, wb + 4L * k);
        return s;
    }

    /** {@code Σ a[ao+k]·b[k]} over n floats: four accumulators hide the FMA latency. */
    private static float dot(float[] a, int ao, float[] b, int n) {
        FloatVector s0 = FloatVector.zero(F), s1 = s0, s2 = s0, s3 = s0;
        int k = 0;
        for (int end = n - 4 * L; k <= end; k += 4 * L) {
            s0 = FloatVector.fromArray(F, a, ao + k).fma(FloatVector.fromArray(F, b, k), s0);
            s1 = FloatVector.fromArray(F, a, ao + k + L).fma(FloatVector.fromArray(F, b, k + L), s1);
            s2 = FloatVector.fromArray(F, a, ao + k + 2 * L).fma(FloatVector.fromArray(F, b, k + 2 * L), s2);
            s3 = FloatVector.fromArray(F, a, ao + k + 3 * L).fma(FloatVector.fromArray(F, b, k + 3 * L), s3);
        }
        for (int end = n - L; k <= end; k += L) s0 = FloatVector.fromArray(F, a, ao + k).fma(FloatVector.fromArray(F, b, k), s0);
        float s = VectorMath.sum(s0.add(s1).add(s2.add(s3)));
        for (; k < n; k++) s += a[ao + k] * b[k];
        return s;
    }

    /** {@code out[outOff + i·dim ..] = table[ids[idsOff + i]]} for i in [0, n), rows widened to floats. */
    public static void gather(MappedWeight table, int vocab, int dim, int[] ids, int idsOff, int n, float[] out, int outOff) {
        checkShape(table, vocab, dim);
        for (int i = 0; i < n; i++) {
            int id = ids[idsOff + i];
            if (id < 0 || id >= vocab)
                throw new IllegalArgumentException("token id " + id + " at position " + i + " is outside the vocabulary [0," + vocab + ")");
            widen(table, (long) id * dim, out, outOff + i * dim, dim);
        }
    }

    private static void checkShape(MappedWeight w, int rows, int cols) {
        if (w.values() != (long) rows * cols)
            throw new IllegalArgumentException("weight of " + w.values() + " " + w.format() + " values is not a ["
                    + rows + ", " + cols + "] matrix");
    }

    private static void checkRange(MappedWeight w, long from, int n) {
        if (from < 0 || n < 0 || from + n > w.values())
            throw new IllegalArgumentException("values [" + from + ", " + (from + n) + ") are outside a weight of "
                    + w.values() + " values");
    }
}

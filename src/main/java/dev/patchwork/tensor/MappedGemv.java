package dev.patchwork.tensor;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Kernels that read weights in their stored {@link WeightFormat} (BF16, F16 or F32 in a mapped checkpoint):
 * widening to float32, {@code y = x·Wᵀ} for a few rows (generation and short prompts), and embedding-row lookup.
 *
 * <p>Widening BF16 is a 16-bit left shift of each value into a float's upper half: a {@link ShortVector} load
 * sign-extended to ints ({@code S2I}), shifted, reinterpreted as floats. F16 (no half-precision vectors in JDK 25)
 * takes a few more integer operations and one multiply (see {@link #f16}).
 *
 * <p>The product dots each weight row with every input row, widening BF16 in registers: each weight byte is read from
 * memory once (the other input rows find the row in L1), which is what a memory-bound product needs, and a BF16 row
 * costs half the traffic of a float32 one. Every output value is computed by one thread, so results do not depend on the thread
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
            case F16, BF16 -> {
                boolean brain = w.format() == WeightFormat.BF16;
                int i = 0;
                for (int end = n - L; i <= end; i += L) half(brain, d, (from + i) * 2).intoArray(dst, dstOff + i);
                for (; i < n; i++) dst[dstOff + i] = w.format().get(d, from + i);
            }
        }
    }

    /** {@link #L} 16-bit values at byte {@code b} widened to floats: BF16 when {@code brain}, else IEEE F16. */
    private static FloatVector half(boolean brain, MemorySegment d, long b) {
        IntVector h = (IntVector) ShortVector.fromMemorySegment(S, d, b, ORDER).convertShape(VectorOperators.S2I, I, 0);
        return brain ? h.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats() : f16(h);
    }

    /**
     * F16 bit patterns (sign-extended in int lanes) to floats, exactly as {@link Float#float16ToFloat}: exponent and
     * mantissa shifted into a float's places and scaled by 2^112 (the exponent biases' difference, which also
     * normalises subnormals exactly); infinities and NaNs (exponent all ones) get the float's all-ones exponent
     * instead; then the sign.
     */
    private static FloatVector f16(IntVector h) {
        IntVector magnitude = h.lanewise(VectorOperators.AND, 0x7FFF).lanewise(VectorOperators.LSHL, 13);
        IntVector finite = magnitude.reinterpretAsFloats().mul(0x1p112f).reinterpretAsInts();
        VectorMask<Integer> special = h.lanewise(VectorOperators.AND, 0x7C00).eq(0x7C00);
        VectorMask<Integer> nan = special.and(h.lanewise(VectorOperators.AND, 0x3FF).compare(VectorOperators.NE, 0));
        IntVector bits = finite.blend(magnitude.lanewise(VectorOperators.OR, 0x7F800000), special)
                .lanewise(VectorOperators.OR, 0x400000, nan); // NaNs come out quiet, as the JDK's conversion gives them
        return bits.lanewise(VectorOperators.OR, h.lanewise(VectorOperators.AND, 0x8000).lanewise(VectorOperators.LSHL, 16))
                .reinterpretAsFloats();
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
        boolean brain = format == WeightFormat.BF16;
        Parallel.RangeBody body = (n0, n1) -> {
            for (int n = n0; n < n1; n++) {
                long wb = (long) n * in * format.byteSize();
                for (int i = 0; i < rows; i++) {
                    int xo = xOff + i * in;
                    float s = format == WeightFormat.F32 ? dotF32(x, xo, d, wb, in) : dotHalf(brain, x, xo, d, wb, in);
                    int o = yOff + i * ldy + n;
                    y[o] = accumulate ? y[o] + s : s;
                }
            }
        };
        if ((long) rows * out * in < PARALLEL_MIN_FMAS || !Parallel.sharedAcrossThreads(w.data())) body.run(0, out);
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
     * {@code Σ x[xo+k]·W[k]} over n BF16 (when {@code brain}) or F16 values starting at byte {@code wb}, widened in
     * registers: the weights cross the memory bus at 2 bytes a value. Four accumulators hide the FMA latency.
     */
    private static float dotHalf(boolean brain, float[] x, int xo, MemorySegment w, long wb, int n) {
        FloatVector s0 = FloatVector.zero(F), s1 = s0, s2 = s0, s3 = s0;
        int k = 0;
        for (int end = n - 4 * L; k <= end; k += 4 * L) {
            long b = wb + 2L * k;
            s0 = FloatVector.fromArray(F, x, xo + k).fma(half(brain, w, b), s0);
            s1 = FloatVector.fromArray(F, x, xo + k + L).fma(half(brain, w, b + 2L * L), s1);
            s2 = FloatVector.fromArray(F, x, xo + k + 2 * L).fma(half(brain, w, b + 4L * L), s2);
            s3 = FloatVector.fromArray(F, x, xo + k + 3 * L).fma(half(brain, w, b + 6L * L), s3);
        }
        for (int end = n - L; k <= end; k += L) s0 = FloatVector.fromArray(F, x, xo + k).fma(half(brain, w, wb + 2L * k), s0);
        float s = VectorMath.sum(s0.add(s1).add(s2.add(s3)));
        WeightFormat f = brain ? WeightFormat.BF16 : WeightFormat.F16;
        for (; k < n; k++) s += x[xo + k] * f.get(w, wb / 2 + k);
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

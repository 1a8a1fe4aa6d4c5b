package dev.patchwork.tensor;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

import static dev.patchwork.tensor.ParameterBuffer.F32;

/**
 * Flat vectorised helpers that layers and the optimizer share: element-wise add and scale of {@code float[]} ranges,
 * dot products, and the whole-buffer sum of squares and scaling used by gradient-norm clipping over a
 * {@link ParameterBuffer}. Each has a scalar twin ({@code ...Scalar}) selected when {@link Simd#SCALAR}.
 */
public final class VectorOps {
    private static final VectorSpecies<Float> F = Simd.F;
    private static final int LANES = Simd.LANES;
    /** Floats summed in float precision before the partial goes to a double (see {@link #sumOfSquares}). */
    private static final int SUM_BLOCK = 4096;
    /** Floats per work item when a segment-wide loop is split across threads. */
    private static final int SEGMENT_BLOCK = 16_384;

    private VectorOps() {}

    /** {@code out[outOff+i] = a[aOff+i] + b[bOff+i]} for i in [0, n). {@code out} may alias {@code a} or {@code b}. */
    public static void add(float[] a, int aOff, float[] b, int bOff, float[] out, int outOff, int n) {
        if (Simd.SCALAR) addScalar(a, aOff, b, bOff, out, outOff, n);
        else addVector(a, aOff, b, bOff, out, outOff, n);
    }

    /** {@code dst[dOff+i] += src[sOff+i]} for i in [0, n), e.g. a residual gradient. */
    public static void addInPlace(float[] dst, int dOff, float[] src, int sOff, int n) {
        add(dst, dOff, src, sOff, dst, dOff, n);
    }

    /** {@code x[off+i] *= s} for i in [0, n). */
    public static void scale(float[] x, int off, int n, float s) {
        if (Simd.SCALAR) scaleScalar(x, off, n, s);
        else scaleVector(x, off, n, s);
    }

    /** {@code Σ a[aOff+i]·b[bOff+i]} for i in [0, n), in float. */
    public static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        return Simd.SCALAR ? dotScalar(a, aOff, b, bOff, n) : dotVector(a, aOff, b, bOff, n);
    }

    /**
     * {@code Σ x²} over {@code n} floats of {@code seg} starting at float index {@code floatOff}, e.g. the squared
     * gradient norm of a whole {@link ParameterBuffer}. Blocks of 4096 floats are summed in float, block sums in
     * double (relative error about 1e-6 even for billions of values); the parallel partial sums are added in chunk
     * order, so the result is the same on every run with the same thread count.
     */
    public static double sumOfSquares(MemorySegment seg, long floatOff, long n) {
        checkRange(seg, floatOff, n);
        return Simd.SCALAR ? sumOfSquaresScalar(seg, floatOff, n) : sumOfSquaresVector(seg, floatOff, n);
    }

    /** {@code x *= s} over {@code n} floats of {@code seg} from float index {@code floatOff} (gradient clipping). */
    public static void scale(MemorySegment seg, long floatOff, long n, float s) {
        checkRange(seg, floatOff, n);
        if (Simd.SCALAR) scaleScalar(seg, floatOff, n, s);
        else scaleVector(seg, floatOff, n, s);
    }

    /**
     * {@code dst += src} over {@code n} floats of two segments from float index 0 (summing the gradients of
     * training replicas), split across the team.
     */
    public static void addInPlace(MemorySegment dst, MemorySegment src, long n) {
        checkRange(dst, 0, n);
        checkRange(src, 0, n);
        if (Simd.SCALAR) addInPlaceScalar(dst, src, n);
        else addInPlaceVector(dst, src, n);
    }

    // ---- scalar twins (the test oracles) ----

    public static void addScalar(float[] a, int aOff, float[] b, int bOff, float[] out, int outOff, int n) {
        for (int i = 0; i < n; i++) out[outOff + i] = a[aOff + i] + b[bOff + i];
    }

    public static void addInPlaceScalar(float[] dst, int dOff, float[] src, int sOff, int n) {
        addScalar(dst, dOff, src, sOff, dst, dOff, n);
    }

    public static void scaleScalar(float[] x, int off, int n, float s) {
        for (int i = 0; i < n; i++) x[off + i] *= s;
    }

    public static float dotScalar(float[] a, int aOff, float[] b, int bOff, int n) {
        float s = 0f;
        for (int i = 0; i < n; i++) s += a[aOff + i] * b[bOff + i];
        return s;
    }

    public static double sumOfSquaresScalar(MemorySegment seg, long floatOff, long n) {
        checkRange(seg, floatOff, n);
        double s = 0;
        for (long i = 0; i < n; i++) {
            double v = seg.getAtIndex(F32, floatOff + i);
            s += v * v;
        }
        return s;
    }

    public static void addInPlaceScalar(MemorySegment dst, MemorySegment src, long n) {
        for (long i = 0; i < n; i++) dst.setAtIndex(F32, i, dst.getAtIndex(F32, i) + src.getAtIndex(F32, i));
    }

    public static void scaleScalar(MemorySegment seg, long floatOff, long n, float s) {
        checkRange(seg, floatOff, n);
        for (long i = floatOff; i < floatOff + n; i++) seg.setAtIndex(F32, i, seg.getAtIndex(F32, i) * s);
    }

    // ---- Vector API versions ----

    static void addVector(float[] a, int aOff, float[] b, int bOff, float[] out, int outOff, int n) {
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += LANES) {
            FloatVector.fromArray(F, a, aOff + i).add(FloatVector.fromArray(F, b, bOff + i)).intoArray(out, outOff + i);
        }
        for (; i < n; i++) out[outOff + i] = a[aOff + i] + b[bOff + i];
    }

    static void scaleVector(float[] x, int off, int n, float s) {
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += LANES) {
            FloatVector.fromArray(F, x, off + i).mul(s).intoArray(x, off + i);
        }
        for (; i < n; i++) x[off + i] *= s;
    }

    static float dotVector(float[] a, int aOff, float[] b, int bOff, int n) {
        // Four independent accumulators hide the FMA latency (4 cycles) behind its throughput.
        FloatVector acc0 = FloatVector.zero(F), acc1 = acc0, acc2 = acc0, acc3 = acc0;
        int i = 0;
        for (int bound4 = n - n % (4 * LANES); i < bound4; i += 4 * LANES) {
            acc0 = FloatVector.fromArray(F, a, aOff + i).fma(FloatVector.fromArray(F, b, bOff + i), acc0);
            acc1 = FloatVector.fromArray(F, a, aOff + i + LANES).fma(FloatVector.fromArray(F, b, bOff + i + LANES), acc1);
            acc2 = FloatVector.fromArray(F, a, aOff + i + 2 * LANES)
                    .fma(FloatVector.fromArray(F, b, bOff + i + 2 * LANES), acc2);
            acc3 = FloatVector.fromArray(F, a, aOff + i + 3 * LANES)
                    .fma(FloatVector.fromArray(F, b, bOff + i + 3 * LANES), acc3);
        }
        for (int bound = F.loopBound(n); i < bound; i += LANES) {
            acc0 = FloatVector.fromArray(F, a, aOff + i).fma(FloatVector.fromArray(F, b, bOff + i), acc0);
        }
        float s = VectorMath.sum(acc0.add(acc1).add(acc2.add(acc3)));
        for (; i < n; i++) s += a[aOff + i] * b[bOff + i];
        return s;
    }

    static double sumOfSquaresVector(MemorySegment seg, long floatOff, long n) {
        int blocks = blockCount(n, SUM_BLOCK);
        int chunks = ParallelRows.chunks(blocks, SUM_BLOCK);
        double[] partial = KernelScratch.doubles(chunks);
        java.util.Arrays.fill(partial, 0, chunks, 0); // an empty range runs no chunk
        Parallel.forChunks(blocks, chunks, (c, b0, b1) -> {
            double s = 0;
            for (int b = b0; b < b1; b++) {
                long start = (long) b * SUM_BLOCK;
                s += sumOfSquaresBlock(seg, floatOff + start, (int) Math.min(SUM_BLOCK, n - start));
            }
            partial[c] = s;
        });
        double total = 0;
        for (int c = 0; c < chunks; c++) total += partial[c]; // chunk order: deterministic for a fixed thread count
        return total;
    }

    /** Σ x² of at most {@link #SUM_BLOCK} floats, in float (short enough to stay accurate). */
    private static double sumOfSquaresBlock(MemorySegment seg, long floatOff, int n) {
        FloatVector acc0 = FloatVector.zero(F), acc1 = acc0, acc2 = acc0, acc3 = acc0;
        long base = floatOff * Float.BYTES;
        int i = 0;
        for (int bound4 = n - n % (4 * LANES); i < bound4; i += 4 * LANES) {
            FloatVector v0 = load(seg, base, i), v1 = load(seg, base, i + LANES);
            FloatVector v2 = load(seg, base, i + 2 * LANES), v3 = load(seg, base, i + 3 * LANES);
            acc0 = v0.fma(v0, acc0);
            acc1 = v1.fma(v1, acc1);
            acc2 = v2.fma(v2, acc2);
            acc3 = v3.fma(v3, acc3);
        }
        for (int bound = F.loopBound(n); i < bound; i += LANES) {
            FloatVector v = load(seg, base, i);
            acc0 = v.fma(v, acc0);
        }
        double s = VectorMath.sum(acc0.add(acc1).add(acc2.add(acc3)));
        for (; i < n; i++) {
            double v = seg.getAtIndex(F32, floatOff + i);
            s += v * v;
        }
        return s;
    }

    static void scaleVector(MemorySegment seg, long floatOff, long n, float s) {
        int blocks = blockCount(n, SEGMENT_BLOCK);
        ParallelRows.forRows(blocks, SEGMENT_BLOCK, (b0, b1) -> {
            for (int b = b0; b < b1; b++) {
                long start = (long) b * SEGMENT_BLOCK;
                int len = (int) Math.min(SEGMENT_BLOCK, n - start);
                long base = (floatOff + start) * Float.BYTES;
                int i = 0;
                for (int bound = F.loopBound(len); i < bound; i += LANES) {
                    load(seg, base, i).mul(s).intoMemorySegment(seg, base + (long) i * Float.BYTES, ByteOrder.LITTLE_ENDIAN);
                }
                for (long k = floatOff + start + i; k < floatOff + start + len; k++) {
                    seg.setAtIndex(F32, k, seg.getAtIndex(F32, k) * s);
                }
            }
        });
    }

    static void addInPlaceVector(MemorySegment dst, MemorySegment src, long n) {
        int blocks = blockCount(n, SEGMENT_BLOCK);
        ParallelRows.forRows(blocks, SEGMENT_BLOCK, (b0, b1) -> {
            for (int b = b0; b < b1; b++) {
                long start = (long) b * SEGMENT_BLOCK;
                int len = (int) Math.min(SEGMENT_BLOCK, n - start);
                long base = start * Float.BYTES;
                int i = 0;
                for (int bound = F.loopBound(len); i < bound; i += LANES) {
                    load(dst, base, i).add(load(src, base, i))
                            .intoMemorySegment(dst, base + (long) i * Float.BYTES, ByteOrder.LITTLE_ENDIAN);
                }
                for (long k = start + i; k < start + len; k++) dst.setAtIndex(F32, k, dst.getAtIndex(F32, k) + src.getAtIndex(F32, k));
            }
        });
    }

    /** The {@code i}-th float from byte offset {@code base}, as a vector of the little-endian values. */
    private static FloatVector load(MemorySegment seg, long base, int i) {
        return FloatVector.fromMemorySegment(F, seg, base + (long) i * Float.BYTES, ByteOrder.LITTLE_ENDIAN);
    }

    private static int blockCount(long n, int block) {
        long blocks = (n + block - 1) / block;
        if (blocks > Integer.MAX_VALUE) throw new IllegalArgumentException(n + " floats are too many for one call");
        return (int) blocks;
    }

    private static void checkRange(MemorySegment seg, long floatOff, long n) {
        if (floatOff < 0 || n < 0 || (floatOff + n) * Float.BYTES > seg.byteSize())
            throw new IllegalArgumentException("float range [" + floatOff + ", " + floatOff + " + " + n
                    + ") does not fit a segment of " + seg.byteSize() / Float.BYTES + " floats");
    }
}

package dev.patchwork.tensor;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static dev.patchwork.tensor.ParameterBuffer.F32;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The fast {@link Matmul} forms against their scalar twins and against a double-precision product.
 *
 * <p>Tolerance: the two float results sum the same products in different orders, so each is within about
 * {@code K·u·Σ|a·b|} of the exact value (u = 2⁻²⁴); we allow {@code 4·(K+2)·u·Σ|a·b|} per element, which is tight
 * enough that a wrong or missing term (of typical size Σ|a·b|/K) fails for every K used here.
 */
class MatmulTest {
    /** Ragged sizes around the vector length (16 at 512 bits), the tile sizes (6 × 64, last panels 16 or 32 wide) and the block sizes. */
    private static final int[] SIZES = {1, 3, 17, 31, 33, 100, 257};
    private static final double U = Math.ulp(1f) / 2;

    private enum Form { XWT, DYW, DYTX }

    /** One random problem with offsets into every operand and garbage in front of and behind each of them. */
    private static final class Problem {
        final int m, n, k, xOff, yOff, wOff;
        final float[] x, y, dy, dx;
        final float[] wValues; // the weight (or gradient) values, copied into a segment per run

        Problem(SplittableRandom rnd, int m, int n, int k) {
            this.m = m;
            this.n = n;
            this.k = k;
            xOff = rnd.nextInt(5);
            yOff = rnd.nextInt(5);
            wOff = rnd.nextInt(5);
            x = random(rnd, xOff + m * k + 3);
            dy = random(rnd, yOff + m * n + 3);
            y = random(rnd, yOff + m * n + 3);
            dx = random(rnd, xOff + m * k + 3);
            wValues = random(rnd, wOff + n * k + 3);
        }
    }

    private static float[] random(SplittableRandom rnd, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (rnd.nextDouble() * 2 - 1);
        return a;
    }

    private static MemorySegment nativeCopy(Arena arena, float[] v) {
        MemorySegment s = arena.allocate((long) v.length * Float.BYTES, 64);
        for (int i = 0; i < v.length; i++) s.setAtIndex(F32, i, v[i]);
        return s;
    }

    private static float[] toArray(MemorySegment s) {
        float[] a = new float[(int) (s.byteSize() / Float.BYTES)];
        for (int i = 0; i < a.length; i++) a[i] = s.getAtIndex(F32, i);
        return a;
    }

    /** Runs one form, fast or scalar, on fresh copies of the problem's outputs; returns the output array. */
    private static float[] run(Form form, Problem p, boolean fast, boolean accumulate, MemorySegment w) {
        int m = p.m, n = p.n, k = p.k;
        switch (form) {
            case XWT -> {
                float[] y = p.y.clone();
                if (fast) Matmul.xwT(y, p.yOff, p.x, p.xOff, w, p.wOff, m, n, k, accumulate);
                else Matmul.xwTScalar(y, p.yOff, p.x, p.xOff, w, p.wOff, m, n, k, accumulate);
                return y;
            }
            case DYW -> {
                float[] dx = p.dx.clone();
                if (fast) Matmul.dyW(dx, p.xOff, p.dy, p.yOff, w, p.wOff, m, n, k, accumulate);
                else Matmul.dyWScalar(dx, p.xOff, p.dy, p.yOff, w, p.wOff, m, n, k, accumulate);
                return dx;
            }
            default -> {
                if (fast) Matmul.dyTx(w, p.wOff, p.dy, p.yOff, p.x, p.xOff, m, n, k);
                else Matmul.dyTxScalar(w, p.wOff, p.dy, p.yOff, p.x, p.xOff, m, n, k);
                return toArray(w);
            }
        }
    }

    /**
     * The exact result in double precision, and per element the bound Σ|a·b| that scales the tolerance; index i of both
     * matches index i of the output array returned by {@link #run} (elements outside the product are left as given).
     */
    private static double[][] exact(Form form, Problem p, boolean accumulate) {
        int m = p.m, n = p.n, k = p.k;
        float[] out = switch (form) {
            case XWT -> p.y;
            case DYW -> p.dx;
            case DYTX -> p.wValues;
        };
        double[] ref = new double[out.length], scale = new double[out.length];
        for (int i = 0; i < out.length; i++) ref[i] = out[i];
        int rows = form == Form.DYTX ? n : m, cols = form == Form.XWT ? n : k, depth = form == Form.XWT ? k
                : form == Form.DYW ? n : m;
        int outOff = form == Form.XWT ? p.yOff : form == Form.DYW ? p.xOff : p.wOff;
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                double s = 0, abs = 0;
                for (int d = 0; d < depth; d++) {
                    double a, b;
                    switch (form) {
                        case XWT -> { a = p.x[p.xOff + i * k + d]; b = p.wValues[p.wOff + j * k + d]; }
                        case DYW -> { a = p.dy[p.yOff + i * n + d]; b = p.wValues[p.wOff + d * k + j]; }
                        default -> { a = p.dy[p.yOff + d * n + i]; b = p.x[p.xOff + d * k + j]; }
                    }
                    s += a * b;
                    abs += Math.abs(a * b);
                }
                int o = outOff + i * cols + j;
                boolean add = accumulate || form == Form.DYTX;
                ref[o] = add ? ref[o] + s : s;
                scale[o] = abs + (add ? Math.abs(out[o]) : 0);
            }
        }
        return new double[][] {ref, scale};
    }

    private static void assertClose(String what, double[] expected, double[] scale, float[] actual, int depth) {
        assertEquals(expected.length, actual.length, what + ": length");
        for (int i = 0; i < expected.length; i++) {
            double tol = 4 * (depth + 2) * U * scale[i] + 1e-30;
            double err = Math.abs(actual[i] - expected[i]);
            assertTrue(err <= tol, what + ": element " + i + " is " + actual[i] + ", expected " + expected[i]
                    + " (error " + err + " > tolerance " + tol + ")");
        }
    }

    private static double[] toDouble(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) d[i] = a[i];
        return d;
    }

    /** Fast against scalar twin on every combination of ragged M and N (K, and overwrite or accumulate, drawn at random). */
    @Test
    void fastMatchesScalarTwinOnRaggedShapes() {
        SplittableRandom rnd = new SplittableRandom(42);
        try (Arena arena = Arena.ofShared()) {
            for (Form form : Form.values()) {
                for (int m : SIZES) {
                    for (int n : SIZES) {
                        int k = SIZES[rnd.nextInt(SIZES.length)];
                        Problem p = new Problem(rnd, m, n, k);
                        boolean acc = form == Form.DYTX || rnd.nextBoolean(); // dyTx always accumulates
                        float[] fast = run(form, p, true, acc, nativeCopy(arena, p.wValues));
                        float[] slow = run(form, p, false, acc, nativeCopy(arena, p.wValues));
                        double[][] ex = exact(form, p, acc);
                        int depth = form == Form.XWT ? k : form == Form.DYW ? n : m;
                        String what = form + " M=" + m + " N=" + n + " K=" + k + " acc=" + acc;
                        assertClose(what + " scalar", ex[0], ex[1], slow, depth);
                        assertClose(what + " fast vs scalar", toDouble(slow), scaleTimesTwo(ex[1]), fast, depth);
                    }
                }
            }
        }
    }

    private static double[] scaleTimesTwo(double[] s) {
        double[] d = new double[s.length];
        for (int i = 0; i < s.length; i++) d[i] = 2 * s[i];
        return d;
    }

    /** Shapes large enough for several depth blocks, row/column blocks and both threads, against double precision. */
    @Test
    void fastMatchesDoublePrecisionProductOnBlockedShapes() {
        SplittableRandom rnd = new SplittableRandom(7);
        // M = 1: the four-rows-per-pass GEMV, on both threads (N·K >= 2^18), with a ragged N and K
        int[][] shapes = {{100, 70, 800}, {97, 300, 390}, {300, 128, 260}, {40, 1000, 64}, {5, 70, 1100}, {3, 1000, 300},
                {1, 1031, 333}, {1, 2050, 257}};
        try (Arena arena = Arena.ofShared()) {
            for (int[] s : shapes) {
                Problem p = new Problem(rnd, s[0], s[1], s[2]);
                for (Form form : Form.values()) {
                    boolean acc = form == Form.DYTX || rnd.nextBoolean();
                    float[] fast = run(form, p, true, acc, nativeCopy(arena, p.wValues));
                    double[][] ex = exact(form, p, acc);
                    int depth = form == Form.XWT ? p.k : form == Form.DYW ? p.n : p.m;
                    assertClose(form + " M=" + p.m + " N=" + p.n + " K=" + p.k, ex[0], ex[1], fast, depth);
                }
            }
        }
    }

    /** Overwrite must ignore what the output held (NaN here); accumulate must add to it exactly once. */
    @Test
    void overwriteIgnoresOldOutputAndAccumulateAddsOnce() {
        SplittableRandom rnd = new SplittableRandom(3);
        int m = 33, n = 100, k = 257;
        Problem p = new Problem(rnd, m, n, k);
        try (Arena arena = Arena.ofShared()) {
            MemorySegment w = nativeCopy(arena, p.wValues);
            float[] y = new float[p.yOff + m * n];
            java.util.Arrays.fill(y, Float.NaN);
            Matmul.xwT(y, p.yOff, p.x, p.xOff, w, p.wOff, m, n, k, false);
            float[] once = y.clone();
            for (int i = p.yOff; i < y.length; i++) assertTrue(Float.isFinite(y[i]), "xwT overwrite left NaN at " + i);
            Matmul.xwT(y, p.yOff, p.x, p.xOff, w, p.wOff, m, n, k, true);
            for (int i = p.yOff; i < y.length; i++) assertEquals(2 * once[i], y[i], 1e-5f * (1 + Math.abs(once[i])));

            float[] dx = new float[m * k];
            java.util.Arrays.fill(dx, Float.NaN);
            Matmul.dyW(dx, 0, p.dy, p.yOff, w, p.wOff, m, n, k, false);
            for (int i = 0; i < dx.length; i++) assertTrue(Float.isFinite(dx[i]), "dyW overwrite left NaN at " + i);
        }
    }

    /** Weights and gradients may live in heap segments and in memory-mapped files, not only in native memory. */
    @Test
    void heapAndMappedSegmentsGiveTheSameResultAsNative(@TempDir Path dir) throws IOException {
        SplittableRandom rnd = new SplittableRandom(11);
        Problem p = new Problem(rnd, 31, 100, 257);
        try (Arena arena = Arena.ofShared(); FileChannel ch = FileChannel.open(dir.resolve("w.bin"),
                StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            MemorySegment mapped = ch.map(FileChannel.MapMode.READ_WRITE, 0, (long) p.wValues.length * Float.BYTES,
                    arena);
            for (Form form : Form.values()) {
                boolean acc = form == Form.DYTX;
                MemorySegment.copy(nativeCopy(arena, p.wValues), 0, mapped, 0, mapped.byteSize());
                float[] expected = run(form, p, true, acc, nativeCopy(arena, p.wValues));
                assertArrayEquals(expected, run(form, p, true, acc, MemorySegment.ofArray(p.wValues.clone())),
                        form + " on a heap segment");
                assertArrayEquals(expected, run(form, p, true, acc, mapped), form + " on a mapped file");
            }
        }
    }

    /** A segment of a confined arena may only be touched by its owner: the call must still work (on one thread). */
    @Test
    void confinedSegmentsWorkOnTheCallingThread() {
        SplittableRandom rnd = new SplittableRandom(13);
        Problem p = new Problem(rnd, 200, 150, 300);
        try (Arena shared = Arena.ofShared(); Arena confined = Arena.ofConfined()) {
            for (Form form : Form.values()) {
                float[] expected = run(form, p, true, form == Form.DYTX, nativeCopy(shared, p.wValues));
                assertArrayEquals(expected, run(form, p, true, form == Form.DYTX, nativeCopy(confined, p.wValues)),
                        form.name());
            }
        }
    }

    /** Repeated calls give bit-identical results (static partitioning, fixed summation order). */
    @Test
    void resultsAreDeterministic() {
        SplittableRandom rnd = new SplittableRandom(5);
        Problem p = new Problem(rnd, 300, 200, 500);
        try (Arena arena = Arena.ofShared()) {
            for (Form form : Form.values()) {
                float[] first = run(form, p, true, false, nativeCopy(arena, p.wValues));
                for (int r = 0; r < 3; r++)
                    assertArrayEquals(first, run(form, p, true, false, nativeCopy(arena, p.wValues)), form.name());
            }
        }
    }

    /** Zero-sized dimensions: an empty depth overwrites with zeros or leaves the output alone when accumulating. */
    @Test
    void emptyDepthClearsOrKeepsOutput() {
        try (Arena arena = Arena.ofShared()) {
            MemorySegment w = arena.allocate(4);
            float[] y = {1f, 2f, 3f, 4f, 5f, 6f};
            Matmul.xwT(y, 0, new float[0], 0, w, 0, 2, 3, 0, true);
            assertArrayEquals(new float[] {1f, 2f, 3f, 4f, 5f, 6f}, y);
            Matmul.xwT(y, 0, new float[0], 0, w, 0, 2, 3, 0, false);
            assertArrayEquals(new float[6], y);
            Matmul.dyTx(w, 0, new float[0], 0, new float[0], 0, 0, 0, 0);
        }
    }

    @Test
    void badArgumentsAreRejectedWithAClearMessage() {
        try (Arena arena = Arena.ofShared()) {
            MemorySegment w = arena.allocate(4L * 6);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Matmul.xwT(new float[4], 0, new float[5], 0, w, 0, 2, 2, 3, false));
            assertTrue(e.getMessage().contains("x needs 2x3 = 6 floats"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> Matmul.dyW(new float[6], 0, new float[4], 0, w, 1, 2, 2, 3, false));
            assertTrue(e.getMessage().contains("w needs"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class,
                    () -> Matmul.dyTx(w, 0, new float[4], 0, new float[6], 0, -1, 2, 3));
            assertTrue(e.getMessage().contains("dimensions must be >= 0"), e.getMessage());
        }
    }
}

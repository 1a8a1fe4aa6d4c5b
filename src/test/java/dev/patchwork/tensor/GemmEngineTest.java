package dev.patchwork.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

import org.junit.jupiter.api.Test;

import static dev.patchwork.tensor.GemmKernel.L;
import static dev.patchwork.tensor.GemmKernel.MR;
import static dev.patchwork.tensor.GemmKernel.NR;
import static dev.patchwork.tensor.ParameterBuffer.F32;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link GemmEngine} with tiny block sizes, so that small problems run through every blocking loop (several depth,
 * row, column and sweep blocks, ragged edges in each) and every operand layout: A plain or transposed, B plain or
 * transposed in an array or a segment, C in an array or a segment.
 */
class GemmEngineTest {
    private static float[] random(SplittableRandom rnd, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (rnd.nextDouble() * 2 - 1);
        return a;
    }

    @Test
    void tinyBlocksGiveTheExactProductForEveryLayout() {
        SplittableRandom rnd = new SplittableRandom(1);
        GemmEngine.Plan[] plans = {
                new GemmEngine.Plan(5, MR, NR, NR, 1, 0),
                new GemmEngine.Plan(7, 2 * MR, 3 * NR, NR, 2, 1),
                new GemmEngine.Plan(64, 3 * MR, 4 * NR, 2 * NR, 2, 0),
                new GemmEngine.Plan(9, MR, 2 * NR, 2 * NR, 3, 1),
                new GemmEngine.Plan(7, 2 * MR, 2 * NR, NR, 2, 2),
                new GemmEngine.Plan(9, MR, NR, NR, 3, 3),
        };
        // 1024 rows: a transposed A whose rows are 4 KB apart goes through the row-major copy (transposeA)
        int[][] shapes = {{1, 1, 1}, {13, 2 * NR + 3, 11}, {3 * MR + 5, 5 * NR - 1, 23}, {50, 70, 40}, {2 * MR, NR + L, 9},
                {2 * MR, NR + 2 * L, 9}, {MR, NR + 2 * L - 3, 6}, {1024, L + 3, 37}};
        try (Arena arena = Arena.ofShared()) {
            for (GemmEngine.Plan plan : plans) {
                for (int[] s : shapes) {
                    int rows = s[0], cols = s[1], depth = s[2];
                    for (int layout = 0; layout < 16; layout++) {
                        boolean aT = (layout & 1) != 0, bT = (layout & 2) != 0, bSeg = (layout & 4) != 0;
                        boolean cSeg = (layout & 8) != 0;
                        check(rnd, arena, plan, rows, cols, depth, aT, bT, bSeg, cSeg);
                    }
                }
            }
        }
    }

    private static void check(SplittableRandom rnd, Arena arena, GemmEngine.Plan plan, int rows, int cols, int depth,
                              boolean aT, boolean bT, boolean bSeg, boolean cSeg) {
        int aOff = 3, bOff = 2, cOff = 1;
        float[] a = random(rnd, aOff + rows * depth);
        float[] b = random(rnd, bOff + depth * cols);
        float[] c0 = random(rnd, cOff + rows * cols);
        boolean acc = rnd.nextBoolean();
        MemorySegment bs = arena.allocate((long) b.length * Float.BYTES);
        MemorySegment cs = arena.allocate((long) c0.length * Float.BYTES);
        for (int i = 0; i < b.length; i++) bs.setAtIndex(F32, i, b[i]);
        for (int i = 0; i < c0.length; i++) cs.setAtIndex(F32, i, c0[i]);
        float[] c = c0.clone();

        GemmEngine.Task t = GemmEngine.task(rows, cols, depth);
        // A(i, p) and B(p, j) in either orientation; the reference below reads them through the same formulas.
        int aRow = aT ? 1 : depth, aDepth = aT ? rows : 1;
        int bDepth = bT ? 1 : cols, bCol = bT ? depth : 1;
        t.a(a, aOff, aRow, aDepth).b(bSeg ? null : b, bSeg ? bs : null, bOff, bDepth, bCol)
                .c(cSeg ? null : c, cSeg ? cs : null, cOff, cols, acc);
        GemmEngine.run(t, plan);

        String what = plan + " " + rows + "x" + cols + "x" + depth + " aT=" + aT + " bT=" + bT + " bSeg=" + bSeg
                + " cSeg=" + cSeg + " acc=" + acc;
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                double sum = 0, abs = 0;
                for (int p = 0; p < depth; p++) {
                    double v = (double) a[aOff + i * aRow + p * aDepth] * b[bOff + p * bDepth + j * bCol];
                    sum += v;
                    abs += Math.abs(v);
                }
                int o = cOff + i * cols + j;
                double expected = acc ? c0[o] + sum : sum;
                float actual = cSeg ? cs.getAtIndex(F32, o) : c[o];
                double tol = 4 * (depth + 2) * Math.ulp(1f) / 2 * (abs + Math.abs(c0[o])) + 1e-30;
                assertTrue(Math.abs(actual - expected) <= tol, what + ": C(" + i + "," + j + ") = " + actual
                        + ", expected " + expected);
            }
        }
        // Nothing outside C may be touched.
        float before = cSeg ? cs.getAtIndex(F32, 0) : c[0];
        assertTrue(before == c0[0], what + ": element before C was overwritten");
    }

    /**
     * Each tile is computed the same way whichever thread runs it: results do not depend on the thread count or on
     * the grid of row and column groups the threads split the output into (grids larger than this machine's team run
     * their parts one after another).
     */
    @Test
    void resultsAreBitIdenticalForAnyThreadCountAndGrid() {
        SplittableRandom rnd = new SplittableRandom(2);
        int rows = 100, cols = 300, depth = 500;
        float[] a = random(rnd, rows * depth), b = random(rnd, depth * cols);
        GemmEngine.Plan p = GemmEngine.Plan.of(rows, cols, depth);
        float[] first = null;
        int[][] grids = {{1, 1}, {2, 1}, {2, 2}, {2, 0}, {3, 1}, {4, 2}, {6, 3}, {6, 2}, {8, 4}};
        for (int[] grid : grids) {
            float[] c = new float[rows * cols];
            GemmEngine.Task t = GemmEngine.task(rows, cols, depth).a(a, 0, depth, 1).b(b, null, 0, 1, depth)
                    .c(c, null, 0, cols, false);
            GemmEngine.Plan plan = p.with(grid[0], grid[1]);
            if (grid[0] <= 2) GemmEngine.run(t, plan);
            else GemmEngine.runSerially(t, plan, grid[0]);
            if (first == null) first = c;
            else assertArrayEquals(first, c, grid[0] + " parts, " + grid[1] + " column groups");
        }
    }

    /** The row-major copy of a transposed A: whole 16 × 16 squares and ragged edges, the padding rows zero. */
    @Test
    void transposedACopiesEveryValue() {
        SplittableRandom rnd = new SplittableRandom(4);
        for (int[] mk : new int[][] {{16, 16}, {40, 37}, {6, 5}, {96, 512}, {17, 33}}) {
            int m = mk[0], k = mk[1], stride = 1024, i0 = 3, p0 = 2, ld = k + 16;
            float[] a = random(rnd, 7 + (p0 + k) * stride + i0 + m);
            GemmEngine.Task t = GemmEngine.task(i0 + m, 1, p0 + k).a(a, 7, 1, stride);
            float[] dst = random(rnd, GemmEngine.roundUp(m, MR) * ld);
            GemmEngine.transposeA(t, i0, m, p0, k, dst, ld);
            for (int i = 0; i < GemmEngine.roundUp(m, MR); i++)
                for (int p = 0; p < k; p++)
                    assertEquals(i < m ? a[7 + (i0 + i) + (p0 + p) * stride] : 0f, dst[i * ld + p], m + "x" + k + " (" + i + ", " + p + ")");
        }
    }

    /** Rows while each row group keeps enough rows to pay for packing B; then column groups, when balanced. */
    @Test
    void gridsSplitRowsUntilPackingWouldNotPay() {
        assertEquals(1, GemmEngine.columnGroups(768, 352, 2));
        assertEquals(2, GemmEngine.columnGroups(128, 352, 2)); // dYᵀ·X of 768×128×352: 128 rows
        assertEquals(1, GemmEngine.columnGroups(128, NR, 2)); // one panel: nothing to split
        assertEquals(1, GemmEngine.columnGroups(8192, 2048, 64));
        assertEquals(8, GemmEngine.columnGroups(1000, 8 * NR, 64)); // 8 row groups of 125 rows, 8 column groups
        assertEquals(1, GemmEngine.columnGroups(50, 3 * NR, 2)); // 2 + 1 panels: 33% over an even share
    }

    /** Column ranges start on panel boundaries, cover every column once, and share the panels' work evenly. */
    @Test
    void columnSplitsAreBalancedAtPanelBoundaries() {
        for (int cols : new int[] {1, L, NR, NR + L, 3 * NR, 5 * NR + 2 * L, 11 * NR + 1, 16 * NR}) {
            for (int parts = 1; parts <= 4; parts++) {
                int prev = 0;
                assertEquals(0, GemmEngine.columnSplit(cols, parts, 0));
                assertEquals(cols, GemmEngine.columnSplit(cols, parts, parts));
                for (int part = 1; part <= parts; part++) {
                    int start = GemmEngine.columnSplit(cols, parts, part);
                    assertTrue(start >= prev && (start % NR == 0 || start == cols), cols + "/" + parts + ": " + start);
                    // No part has more than its share plus one panel.
                    assertTrue(start - prev <= GemmEngine.ceilDiv(cols, parts) + NR, cols + "/" + parts + ": " + start);
                    prev = start;
                }
            }
        }
        assertEquals(3 * NR, GemmEngine.columnSplit(5 * NR + 2 * L, 2, 1)); // 352 columns: 192 + 160 with 16 lanes
    }

    @Test
    void plansWithMisalignedBlocksAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> new GemmEngine.Plan(8, MR + 1, NR, NR, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> new GemmEngine.Plan(8, MR, NR, NR + 1, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> new GemmEngine.Plan(0, MR, NR, NR, 1, 0));
        assertThrows(IllegalArgumentException.class, () -> new GemmEngine.Plan(8, MR, NR, NR, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> new GemmEngine.Plan(8, MR, NR, NR, 1, -1));
    }

    @Test
    void chosenPlansRespectTheKernelTiles() {
        int[][] shapes = {{1, 1, 1}, {768, 384, 128}, {8192, 2048, 512}, {1024, 1024, 1024}, {128, 352, 8192}};
        for (int[] s : shapes) {
            GemmEngine.Plan p = GemmEngine.Plan.of(s[0], s[1], s[2]);
            assertTrue(p.kc() <= GemmEngine.KC_MAX && p.kc() * GemmEngine.ceilDiv(s[2], p.kc()) >= s[2], p.toString());
        }
    }
}

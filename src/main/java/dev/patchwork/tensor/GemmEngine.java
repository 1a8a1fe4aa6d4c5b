package dev.patchwork.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;

import static dev.patchwork.tensor.GemmKernel.F;
import static dev.patchwork.tensor.GemmKernel.L;
import static dev.patchwork.tensor.GemmKernel.MR;
import static dev.patchwork.tensor.GemmKernel.NR;
import static dev.patchwork.tensor.ParameterBuffer.F32;

/**
 * Packed, cache-blocked single-precision GEMM: {@code C[rows×cols] (+)= A[rows×depth] · B[depth×cols]}, where each
 * operand may be stored plainly or transposed, in a {@code float[]} or (B and C) a little-endian {@link MemorySegment}.
 * {@link Matmul} maps its three training forms onto this one engine.
 *
 * <p>Structure (after Goto and van de Geijn's layered GEMM): for each block of {@code nc} columns and depth block of
 * {@code kc} steps, B is packed into {@code kc × NR} panels; per row block of {@code mc},
 * {@link GemmKernel#multiply} then runs on every {@code MR × NR} output tile. Two threads or more share the output as
 * a grid of row groups × column groups, each thread packing the B of its own columns ({@link #columnGroups} says
 * why and how the grid is chosen). Packing B is the only place that reads the
 * weight segment and resolves its layout, so the kernel reads only {@code float[]} data. A (always an activation array)
 * is read in place at its own strides ({@link #readAInPlace}), which removes a pass over it, packed into
 * {@code kc × MR} panels only for ragged row tiles, and copied row-major ({@link #transposeA}) when it is stored
 * transposed with rows that would share one L1 set.
 *
 * <p>Block sizes are chosen per call from the shape ({@link Plan}): the depth is split into near-equal blocks of at
 * most {@value #KC_MAX} steps (a 6-row A panel is then at most 12 KB, within L1, and is reused across a whole L2
 * sweep of B); the part of B swept for every A panel is kept near 512 KB (half of L2), the A block near 192 KB, and
 * one depth block of packed B under 16 MB. Problems below
 * {@value #PARALLEL_MIN_FMAS} multiply-adds run on the calling thread, where handing work to another core would cost
 * more than it saves.
 *
 * <p>Every element of C is computed by one thread, and its sum runs over depth blocks in a fixed order that depends
 * only on the shape, so results are bit-identical for any thread count.
 */
final class GemmEngine {
    /**
     * Most depth steps per packed block. 512 rather than 384: fewer passes of C through the accumulators (and of
     * segment outputs through the scratch tile) per tile; two threads, 8192×384×128 dYᵀ·X (depth 8192) 148–166 →
     * 178–186 GFLOP/s, 8192×2048×512 X·Wᵀ 193–194 → 200–219 (one depth block instead of two).
     */
    static final int KC_MAX = 512;
    /** Floats in the packed A block (about 192 KB: a quarter of L2 on current cores). */
    private static final int A_BLOCK_FLOATS = 48 * 1024;
    /** Floats in the part of packed B swept for every A panel (about 512 KB: half of L2). */
    private static final int B_SWEEP_FLOATS = 128 * 1024;
    /**
     * Floats in one packed B block, one depth block of a block of columns (at most 16 MB; the sweep in use is what
     * must stay in cache). Wider products are done in several column blocks.
     */
    private static final int B_BLOCK_FLOATS = 4 * 1024 * 1024;
    /** Below this many multiply-adds a call runs on one thread. */
    static final long PARALLEL_MIN_FMAS = 1L << 20;

    /** The lanes of the last, partial vector of an MR-float row (empty when L divides MR). */
    private static final VectorMask<Float> MR_TAIL = F.indexInRange(MR / L * L, MR);
    private static final ValueLayout.OfFloat LE = F32;
    private static final ByteOrder ORDER = ByteOrder.LITTLE_ENDIAN;

    /** Per-thread buffers (packed A and B blocks, edge tile), grown on demand and then reused: steady-state calls do not allocate. */
    private static final class Workspace {
        float[] a = new float[0];
        final float[] tile = new float[MR * NR];
        /** 16 columns × 16 depth steps of a transposed B, contiguous, for {@link Transpose16}. */
        final float[] block16 = new float[256];

        /** This thread's packed block of B (one depth block of a block of columns). */
        float[] b = new float[0];

        float[] a(int floats) {
            if (a.length < floats) a = new float[floats];
            return a;
        }

        float[] b(int floats) {
            if (b.length < floats) b = new float[floats];
            return b;
        }
    }

    private static final ThreadLocal<Workspace> WORKSPACE = ThreadLocal.withInitial(Workspace::new);
    private static final ThreadLocal<Task> TASK = ThreadLocal.withInitial(Task::new);

    private GemmEngine() {}

    /** Rows per row group below which a full pass over B per thread costs more than about 5% of its arithmetic. */
    private static final int MIN_ROWS_PER_GROUP = 120;

    /**
     * How many column groups {@code parts} threads split a {@code rows × cols} output into; the row groups are
     * {@code parts / columnGroups}. Part p takes row group {@code p / columnGroups} (a contiguous range of row tiles)
     * and column group {@code p % columnGroups} (a contiguous range of column panels), and packs the B of its
     * columns, one depth block at a time, into a buffer of its own; it reads A in place or packs it privately too. So
     * the only data the threads share is read-only input.
     *
     * <p>An earlier version packed B once, together (each thread some panels), into one shared buffer: every call then
     * rewrote lines the other core had read in the previous call, each write first took its line back from that core's
     * cache, and when the host put the two vCPUs on different core complexes, packing 768×352 floats took 270 µs per
     * thread instead of 20 (768×128×352 dYᵀ·X at 100 GFLOP/s instead of 165). Packing privately costs each thread a
     * pass over its columns of B instead of a share of one; measured with both versions alternating (two threads),
     * private packing was 13–33% faster on the training shapes (K = 128…352) and equal on 8192×2048×512.
     *
     * <p>The choice: the fewest column groups (each extra one makes every thread of a row group read A again) that
     * leave each row group at least {@value #MIN_ROWS_PER_GROUP} rows (packing a value of B costs about 6
     * multiply-adds, and a thread does one per row of its group for each value: below that the duplicated packing
     * costs more than 5%), among those whose whole panels share the columns within 10%. When none leaves that many
     * rows, the most column groups that are balanced. Two threads: rows unless the output has fewer than 240 rows.
     */
    static int columnGroups(int rows, int cols, int parts) {
        int balancedMost = 1;
        for (int g = 1; g <= parts; g++) {
            if (parts % g != 0 || !balancedColumns(cols, g)) continue;
            if (rows / (parts / g) >= MIN_ROWS_PER_GROUP) return g;
            balancedMost = g;
        }
        return balancedMost;
    }

    /** Whether {@code groups} column ranges of whole panels each hold at most 10% more than an even share. */
    private static boolean balancedColumns(int cols, int groups) {
        if (groups == 1) return true;
        if (groups > ceilDiv(cols, NR)) return false;
        int widest = 0;
        for (int g = 0; g < groups; g++) widest = Math.max(widest, columnSplit(cols, groups, g + 1) - columnSplit(cols, groups, g));
        return widest <= 1.1 * cols / groups;
    }

    /**
     * How one call is cut up: depth block {@code kc}, row block {@code mc} (a multiple of MR), column block {@code nc}
     * and the part of it swept per A panel {@code ns} (multiples of NR), how many threads share the work, and in how
     * many column groups ({@link #columnGroups}; 0: chosen for the threads actually available when the call runs).
     */
    record Plan(int kc, int mc, int nc, int ns, int threads, int columnGroups) {
        Plan {
            if (kc < 1 || mc < MR || mc % MR != 0 || ns < NR || ns % NR != 0 || nc < ns || nc % NR != 0 || threads < 1)
                throw new IllegalArgumentException("bad GEMM plan " + kc + "/" + mc + "/" + nc + "/" + ns + "/" + threads
                        + ": need kc >= 1, mc a multiple of " + MR + ", ns and nc multiples of " + NR
                        + ", nc >= ns, threads >= 1");
            if (columnGroups < 0) throw new IllegalArgumentException("bad GEMM plan: columnGroups " + columnGroups + " < 0");
        }

        /** The same blocks on {@code threads} threads in {@code columnGroups} column groups (0: chosen per call). */
        Plan with(int threads, int columnGroups) {
            return new Plan(kc, mc, nc, ns, threads, columnGroups);
        }

        static Plan of(int rows, int cols, int depth) {
            int kc = Math.max(1, ceilDiv(depth, Math.max(1, ceilDiv(depth, KC_MAX))));
            int mc = Math.min(Math.max(MR, A_BLOCK_FLOATS / kc / MR * MR), roundUp(Math.max(rows, 1), MR));
            int ns = Math.max(NR, B_SWEEP_FLOATS / kc / NR * NR);
            int nc = Math.min(Math.max(NR, B_BLOCK_FLOATS / kc / NR * NR), roundUp(Math.max(cols, 1), NR));
            ns = Math.min(ns, nc);
            long fmas = (long) rows * cols * depth;
            int threads = fmas < PARALLEL_MIN_FMAS ? 1 : Parallel.threads();
            return new Plan(kc, mc, nc, ns, threads, 0);
        }
    }

    /**
     * One GEMM call's operands. A element (i, p) is at {@code a[aOff + i*aRowStride + p*aDepthStride]}; B element
     * (p, j) at {@code bOff + p*bDepthStride + j*bColStride} in {@code bArr} or, when that is null, {@code bSeg}; C
     * element (i, j) at {@code cOff + i*ldc + j} in {@code cArr} or, when that is null, {@code cSeg}. One stride of each
     * operand is 1. The task object is reused per calling thread (it is the body handed to the workers).
     */
    static final class Task implements Parallel.ChunkBody {
        int rows, cols, depth;
        float[] a;
        int aOff, aRowStride, aDepthStride;
        float[] bArr;
        MemorySegment bSeg;
        long bOff;
        int bDepthStride, bColStride;
        float[] cArr;
        MemorySegment cSeg;
        long cOff;
        int ldc;
        boolean accumulate;
        Plan plan;
        int parts, columnGroups;
        /** Plans of recent shapes (training cycles through a few shapes), so a call does not allocate one. */
        private final Plan[] recentPlans = new Plan[16];
        private final int[] recentShapes = new int[3 * 16];
        private int nextRecent;

        Plan planFor(int rows, int cols, int depth) {
            for (int i = 0; i < recentPlans.length; i++) {
                if (recentPlans[i] != null && recentShapes[3 * i] == rows && recentShapes[3 * i + 1] == cols
                        && recentShapes[3 * i + 2] == depth) return recentPlans[i];
            }
            int i = nextRecent;
            nextRecent = (i + 1) % recentPlans.length;
            recentShapes[3 * i] = rows;
            recentShapes[3 * i + 1] = cols;
            recentShapes[3 * i + 2] = depth;
            return recentPlans[i] = Plan.of(rows, cols, depth);
        }
        Task a(float[] a, int off, int rowStride, int depthStride) {
            this.a = a;
            aOff = off;
            aRowStride = rowStride;
            aDepthStride = depthStride;
            return this;
        }

        Task b(float[] arr, MemorySegment seg, long off, int depthStride, int colStride) {
            bArr = arr;
            bSeg = seg;
            bOff = off;
            bDepthStride = depthStride;
            bColStride = colStride;
            return this;
        }

        Task c(float[] arr, MemorySegment seg, long off, int ldc, boolean accumulate) {
            cArr = arr;
            cSeg = seg;
            cOff = off;
            this.ldc = ldc;
            this.accumulate = accumulate;
            return this;
        }

        /** Part {@code part} of {@code parts}: its cell of the grid of row groups × column groups. */
        @Override
        public void run(int part, int start, int end) {
            Workspace ws = WORKSPACE.get();
            int rowGroups = parts / columnGroups, rowGroup = part / columnGroups, colGroup = part % columnGroups;
            int rowTiles = ceilDiv(rows, MR);
            int r0 = Parallel.chunkStart(rowTiles, rowGroups, rowGroup), r1 = Parallel.chunkStart(rowTiles, rowGroups, rowGroup + 1);
            int c1 = columnSplit(cols, columnGroups, colGroup + 1);
            if (r0 >= r1) return;
            for (int jc = columnSplit(cols, columnGroups, colGroup); jc < c1; jc += plan.nc()) {
                int ncb = Math.min(plan.nc(), c1 - jc), colTiles = ceilDiv(ncb, NR);
                computeTiles(this, jc, ncb, r0 * colTiles, r1 * colTiles, ws);
            }
        }

        private void release() { // drop references to caller data so it is not kept alive by a thread-local
            a = null;
            bArr = null;
            bSeg = null;
            cArr = null;
            cSeg = null;
        }
    }

    /** A task for the calling thread; fill it with {@link Task#a}, {@link Task#b}, {@link Task#c}, then {@link #run}. */
    static Task task(int rows, int cols, int depth) {
        Task t = TASK.get();
        t.rows = rows;
        t.cols = cols;
        t.depth = depth;
        return t;
    }

    /** Runs a filled task with block sizes chosen for its shape, in parallel when it is large enough. */
    static void run(Task t) {
        run(t, t.planFor(t.rows, t.cols, t.depth));
    }

    /**
     * Every part of a grid of {@code parts} in turn on the calling thread: the same tiles, computed the same way, as
     * a team of that many threads would (tests check grids larger than the machine has cores).
     */
    static void runSerially(Task t, Plan plan, int parts) {
        try {
            t.plan = plan;
            setGrid(t, parts);
            for (int p = 0; p < parts; p++) t.run(p, 0, 0);
        } finally {
            t.release();
        }
    }

    /** {@code parts} parts, in the plan's column groups (or the chosen ones), reduced to a divisor that has panels. */
    private static void setGrid(Task t, int parts) {
        int groups = t.plan.columnGroups() > 0 ? t.plan.columnGroups() : columnGroups(t.rows, t.cols, parts);
        groups = Math.max(1, Math.min(groups, Math.min(parts, ceilDiv(t.cols, NR))));
        while (parts % groups != 0) groups--;
        t.parts = parts;
        t.columnGroups = groups;
    }

    /**
     * Runs a filled task with the given block sizes (tests use tiny blocks to exercise every loop), its output shared
     * by the team as {@link #columnGroups} says.
     */
    static void run(Task t, Plan plan) {
        try {
            if (t.rows == 0 || t.cols == 0) return;
            if (t.depth == 0) {
                if (!t.accumulate) clear(t);
                return;
            }
            t.plan = plan;
            boolean shareable = Parallel.sharedAcrossThreads(t.bSeg) && Parallel.sharedAcrossThreads(t.cSeg);
            int parts = shareable ? Math.min(plan.threads(), Parallel.available()) : 1;
            setGrid(t, parts);
            if (parts == 1) t.run(0, 0, 1);
            else Parallel.forChunks(parts, parts, t);
        } finally {
            t.release();
        }
    }

    /**
     * Start column of part {@code part} of {@code parts} contiguous column ranges, at panel (NR) boundaries, balanced
     * by the work of each panel (a narrow last panel runs a narrower kernel: it counts as the vectors it computes).
     */
    static int columnSplit(int cols, int parts, int part) {
        if (part <= 0) return 0;
        if (part >= parts) return cols;
        int full = cols / NR, lastVectors = ceilDiv(cols - full * NR, L);
        double work = 4.0 * full + (lastVectors <= 2 ? lastVectors : 4); // in vectors: a full panel is four
        int boundary = (int) Math.round(work * part / parts / 4); // in panels, nearest to this part's share
        return Math.min(cols, boundary * NR);
    }

    /**
     * Computes tiles {@code [t0, t1)} of the column block {@code [jc, jc+ncb)} on this thread; tile {@code i} is row
     * tile {@code i / colTiles}, column tile {@code i % colTiles}. Depth is taken in blocks of {@code kc} (partial sums
     * added into C in depth order); each depth block of B is packed just before it is used, into a buffer of this
     * thread's that stays in cache while the block's rows pass over it (packing every depth step up front wrote, for
     * a deep product such as 8192×2048×512 dYᵀ·X, 16 MB per thread that was then read back from memory). Within a
     * depth block rows go in blocks of {@code mc} (A packed once per pair): depth outermost, so packing reads the
     * source rows of a depth block while they are hot, and deep products (dyTx over thousands of rows) stream their
     * inputs once. Columns go in sweeps of {@code ns} (the part of packed B that stays
     * in L2 while every A panel passes over it); within a sweep each A panel (in L1) meets every B panel.
     */
    private static void computeTiles(Task t, int jc, int ncb, int t0, int t1, Workspace ws) {
        if (t0 >= t1) return;
        Plan plan = t.plan;
        int colTiles = ceilDiv(ncb, NR), paddedCols = roundUp(ncb, NR);
        int rowFirst = t0 / colTiles * MR, rowEnd = Math.min(t.rows, ((t1 - 1) / colTiles + 1) * MR);
        float[] packedB = ws.b(paddedCols * Math.min(plan.kc(), t.depth));
        for (int pc = 0; pc < t.depth; pc += plan.kc()) {
            int kcb = Math.min(plan.kc(), t.depth - pc);
            packB(t, pc, kcb, jc, ncb, packedB, 0);
            boolean add = t.accumulate || pc > 0;
            // Full row tiles are read in place when that beats copying them (see readAInPlace); the rest is packed. An
            // A read neither way (stored transposed, rows a multiple of 4 KB apart) is transposed into a row-major
            // copy of the row block (transposeA) and read from there like a row-major A.
            boolean inPlaceRows = readAInPlace(t);
            int ld = kcb + 16; // the copy's row stride: rows not a multiple of 4 KB apart
            for (int ic = rowFirst; ic < rowEnd; ic += plan.mc()) {
                int mcb = Math.min(plan.mc(), rowEnd - ic);
                int inPlace = inPlaceRows ? mcb / MR * MR : 0;
                float[] pa = ws.a(roundUp(mcb, MR) * (inPlaceRows ? kcb : ld));
                if (!inPlaceRows) transposeA(t, ic, mcb, pc, kcb, pa, ld);
                else if (inPlace < mcb) packA(t, ic + inPlace, mcb - inPlace, pc, kcb, pa);
                for (int js = 0; js < ncb; js += plan.ns()) {
                    int jsEnd = Math.min(ncb, js + plan.ns());
                    for (int ir = 0; ir < mcb; ir += MR) {
                        int rowTile = (ic + ir) / MR;
                        // Only this thread's tiles: clip the sweep to [t0, t1) in row-major tile order.
                        int j0 = Math.max(js, (t0 - rowTile * colTiles) * NR);
                        int j1 = Math.min(jsEnd, (t1 - rowTile * colTiles) * NR);
                        boolean direct = ir < inPlace;
                        float[] aSrc = direct ? t.a : pa;
                        int aPanel = direct ? t.aOff + (ic + ir) * t.aRowStride + pc * t.aDepthStride
                                : inPlaceRows ? (ir - inPlace) * kcb : ir * ld;
                        int rowStride = direct ? t.aRowStride : inPlaceRows ? 1 : ld;
                        int depthStride = direct ? t.aDepthStride : inPlaceRows ? MR : 1;
                        for (int jr = j0; jr < j1; jr += NR) {
                            tile(t, ws, kcb, aSrc, aPanel, rowStride, depthStride, packedB, jr * kcb,
                                    ic + ir, Math.min(MR, mcb - ir), jc + jr, Math.min(NR, ncb - jr), add);
                        }
                    }
                }
            }
        }
    }

    /**
     * Whether the kernel reads full row tiles of A in place, from the caller's array, instead of from a packed copy.
     * Packing A is a pass over it that cannot overlap with arithmetic (and, for row-major A, an element-by-element
     * transposition); reading in place costs the kernel a little (its six rows are six streams instead of one).
     * Measured, in place wins at every width: 1024³ X·Wᵀ / dY·W went from 158–186 / 161–188 GFLOP/s (two threads, A
     * packed above 512 columns, as before) to 187–198 / 193–209, one thread 87 → 89 (together with {@link #KC_MAX}
     * 384 → 512: 92). Row-major A reads MR = 6 rows at once, which fit in the 8 ways of an L1 set even when they are
     * a multiple of 4 KB apart (with the earlier 12-row tile such rows thrashed and the kernel lost up to 40%). A
     * stored transposed (dYᵀ in dYᵀ·X) touches one line per depth step; when its leading dimension is a multiple of
     * 4 KB all those lines fall in one L1 set, so it is copied row-major then ({@link #transposeA}), and
     * read in place otherwise, a multiple of 1 KB (four sets) included (one thread: 8192×384×128 dYᵀ·X 81 GFLOP/s in
     * place against 67 packed; 4706×256×128 78–82 against 73; 1024×768×256 92–94 against 88–91).
     */
    private static boolean readAInPlace(Task t) {
        return t.aDepthStride == 1 || t.aDepthStride % 1024 != 0;
    }

    /**
     * One MR×NR tile at C(row, col) of which {@code rows × cols} are inside C: with the narrowest kernel (one, two or
     * four vectors) that covers {@code cols}, straight into C when the tile is whole, else through a scratch tile.
     */
    private static void tile(Task t, Workspace ws, int kcb, float[] pa, int aPanel, int aRowStride, int aDepthStride,
                             float[] pb, int bPanel, int row, int rows, int col, int cols, boolean add) {
        int width = cols <= L ? L : cols <= 2 * L ? 2 * L : NR;
        boolean direct = t.cArr != null && rows == MR && cols == width;
        float[] c = direct ? t.cArr : ws.tile;
        int cOff = direct ? (int) t.cOff + row * t.ldc + col : 0, ldc = direct ? t.ldc : NR;
        boolean addHere = direct && add;
        if (width == L) GemmKernel.multiply1(kcb, pa, aPanel, aRowStride, aDepthStride, pb, bPanel, c, cOff, ldc, addHere);
        else if (width == 2 * L)
            GemmKernel.multiply2(kcb, pa, aPanel, aRowStride, aDepthStride, pb, bPanel, c, cOff, ldc, addHere);
        else GemmKernel.multiply(kcb, pa, aPanel, aRowStride, aDepthStride, pb, bPanel, c, cOff, ldc, addHere);
        if (direct) return;
        // Edge tiles and segment outputs: merge only the valid part of the scratch tile.
        if (t.cArr != null) mergeIntoArray(ws.tile, rows, cols, t.cArr, (int) t.cOff + row * t.ldc + col, t.ldc, add);
        else mergeIntoSegment(ws.tile, rows, cols, t.cSeg, t.cOff + (long) row * t.ldc + col, t.ldc, add);
    }

    private static void mergeIntoArray(float[] tile, int rows, int cols, float[] c, int cOff, int ldc, boolean add) {
        for (int r = 0; r < rows; r++) {
            int o = cOff + r * ldc, s = r * NR;
            if (add) for (int j = 0; j < cols; j++) c[o + j] += tile[s + j];
            else System.arraycopy(tile, s, c, o, cols);
        }
    }

    /** Adds (or stores) the tile into the segment: full vectors where they fit, scalars for the ragged tail. */
    private static void mergeIntoSegment(float[] tile, int rows, int cols, MemorySegment c, long cOff, int ldc,
                                         boolean add) {
        for (int r = 0; r < rows; r++) {
            long o = cOff + (long) r * ldc;
            int s = r * NR, j = 0;
            for (; j <= cols - L; j += L) {
                long byteOff = (o + j) * Float.BYTES;
                FloatVector v = FloatVector.fromArray(F, tile, s + j);
                if (add) v = v.add(FloatVector.fromMemorySegment(F, c, byteOff, ORDER));
                v.intoMemorySegment(c, byteOff, ORDER);
            }
            for (; j < cols; j++) {
                float v = tile[s + j];
                c.setAtIndex(LE, o + j, add ? c.getAtIndex(LE, o + j) + v : v);
            }
        }
    }

    /** C = 0 (a product over an empty depth, when not accumulating). */
    private static void clear(Task t) {
        for (int i = 0; i < t.rows; i++) {
            long o = t.cOff + (long) i * t.ldc;
            if (t.cArr != null) java.util.Arrays.fill(t.cArr, (int) o, (int) o + t.cols, 0f);
            else t.cSeg.asSlice(o * Float.BYTES, (long) t.cols * Float.BYTES).fill((byte) 0);
        }
    }

    /**
     * Packs A[i0 : i0+m, p0 : p0+k] into MR-row panels: panel s holds, for each depth step p, the MR values
     * A[i0 + s*MR + (0..MR-1), p0 + p] contiguously (rows past {@code m} are zero, so edge tiles need no special kernel).
     */
    static void packA(Task t, int i0, int m, int p0, int k, float[] dst) {
        float[] a = t.a;
        if (t.aDepthStride != 1 && t.aRowStride == 1) {
            // A is stored transposed (columns contiguous): each depth step is MR consecutive values per panel. Going
            // depth step by depth step reads the source sequentially (panel by panel would stride through memory).
            int full = m / MR * MR;
            for (int p = 0; p < k; p++) {
                int src = t.aOff + (p0 + p) * t.aDepthStride + i0;
                for (int s = 0; s < full; s += MR) {
                    // Whole vectors plus one masked vector: a System.arraycopy call per MR floats costs 4x more.
                    int d = s * k + p * MR, r = 0;
                    for (; r <= MR - L; r += L) FloatVector.fromArray(F, a, src + s + r).intoArray(dst, d + r);
                    if (r < MR) FloatVector.fromArray(F, a, src + s + r, MR_TAIL).intoArray(dst, d + r, MR_TAIL);
                }
                if (full < m) {
                    int d = full * k + p * MR, rows = m - full;
                    System.arraycopy(a, src + full, dst, d, rows);
                    java.util.Arrays.fill(dst, d + rows, d + MR, 0f);
                }
            }
            return;
        }
        for (int s = 0; s < m; s += MR) {
            int rows = Math.min(MR, m - s), base = s * k;
            // Rows are contiguous in depth: read each row once, write with stride MR (measured faster than
            // depth-outer orders, which read MR rows at once, or than gathers).
            for (int r = 0; r < rows; r++) {
                int src = t.aOff + (i0 + s + r) * t.aRowStride + p0;
                for (int p = 0; p < k; p++) dst[base + p * MR + r] = a[src + p];
            }
            if (rows < MR) {
                for (int p = 0; p < k; p++) java.util.Arrays.fill(dst, base + p * MR + rows, base + (p + 1) * MR, 0f);
            }
        }
    }

    /**
     * Copies A[i0 : i0+m, p0 : p0+k] of an A stored transposed into {@code dst} row-major, row i at {@code i*ld}, with
     * the rows up to the next multiple of MR zero: 16 × 16 squares through {@link Transpose16}, the ragged edges
     * element by element. Packing such an A into MR-row panels instead copied six values per depth step of every
     * panel with masked vectors, which took 14% of 8192×2048×512 dYᵀ·X on one core (87–90 GFLOP/s); reading it in
     * place puts all of a depth block's lines in one L1 set (91). With this copy: 99 (a row-major A read in place:
     * 102–105). One row block at a time, so the copy stays in L2 (4 MB copies of 21 row blocks at once: 95).
     */
    static void transposeA(Task t, int i0, int m, int p0, int k, float[] dst, int ld) {
        float[] a = t.a;
        int src0 = t.aOff + i0 + p0 * t.aDepthStride;
        int rows16 = Transpose16.AVAILABLE ? m / 16 * 16 : 0, depth16 = Transpose16.AVAILABLE ? k / 16 * 16 : 0;
        // depth outermost: each square reads on along the same 16 source rows, 16 sequential streams
        for (int p = 0; p < depth16; p += 16)
            for (int i = 0; i < rows16; i += 16)
                Transpose16.block(a, src0 + i + p * t.aDepthStride, t.aDepthStride, dst, i * ld + p, ld);
        for (int p = 0; p < k; p++) {
            int src = src0 + p * t.aDepthStride;
            for (int i = p < depth16 ? rows16 : 0; i < m; i++) dst[i * ld + p] = a[src + i];
        }
        for (int i = m; i < roundUp(m, MR); i++) java.util.Arrays.fill(dst, i * ld, i * ld + k, 0f);
    }

    /**
     * Packs B[p0 : p0+k, j0 : j0+n] into NR-column panels: panel q holds, for each depth step p, the NR values
     * B[p0 + p, j0 + q*NR + (0..NR-1)] contiguously (columns past {@code n} are zero).
     */
    static void packB(Task t, int p0, int k, int j0, int n, float[] dst, int dstOff) {
        for (int q = 0; q < n; q += NR) {
            int cols = Math.min(NR, n - q), base = dstOff + q * k;
            if (t.bColStride == 1) packBRows(t, p0, k, j0 + q, cols, dst, base);
            else packBColumns(t, p0, k, j0 + q, cols, dst, base);
        }
    }

    /** B stored depth-major (columns contiguous): each depth step copies NR consecutive values. */
    private static void packBRows(Task t, int p0, int k, int j, int cols, float[] dst, int base) {
        if (cols == NR) {
            if (t.bArr != null) {
                for (int p = 0; p < k; p++) {
                    int src = (int) t.bOff + (p0 + p) * t.bDepthStride + j, d = base + p * NR;
                    for (int v = 0; v < NR; v += L) FloatVector.fromArray(F, t.bArr, src + v).intoArray(dst, d + v);
                }
            } else {
                for (int p = 0; p < k; p++) {
                    long src = (t.bOff + (long) (p0 + p) * t.bDepthStride + j) * Float.BYTES;
                    int d = base + p * NR;
                    for (int v = 0; v < NR; v += L)
                        FloatVector.fromMemorySegment(F, t.bSeg, src + (long) v * Float.BYTES, ORDER).intoArray(dst, d + v);
                }
            }
            return;
        }
        for (int p = 0; p < k; p++) {
            long src = t.bOff + (long) (p0 + p) * t.bDepthStride + j;
            int d = base + p * NR;
            for (int c = 0; c < cols; c++) dst[d + c] = t.bArr != null ? t.bArr[(int) src + c] : t.bSeg.getAtIndex(LE, src + c);
            java.util.Arrays.fill(dst, d + cols, d + NR, 0f);
        }
    }

    /**
     * B stored column-major (depth contiguous, i.e. a transposed weight). With 512-bit vectors, 16 columns × 16 depth
     * steps at a time are copied into a small contiguous block and transposed in registers ({@link Transpose16}); the
     * ragged rest, and every other species, reads each column once and writes with stride NR.
     */
    private static void packBColumns(Task t, int p0, int k, int j, int cols, float[] dst, int base) {
        int blockCols = 0, blockDepth = 0;
        if (Transpose16.AVAILABLE) {
            blockCols = cols / 16 * 16;
            blockDepth = k / 16 * 16;
            float[] block = WORKSPACE.get().block16;
            for (int c = 0; c < blockCols; c += 16) {
                for (int p = 0; p < blockDepth; p += 16) {
                    for (int i = 0; i < 16; i++) {
                        long src = t.bOff + (long) (j + c + i) * t.bColStride + p0 + p;
                        if (t.bArr != null) FloatVector.fromArray(F, t.bArr, (int) src).intoArray(block, 16 * i);
                        else FloatVector.fromMemorySegment(F, t.bSeg, src * Float.BYTES, ORDER).intoArray(block, 16 * i);
                    }
                    Transpose16.block(block, 0, 16, dst, base + p * NR + c, NR);
                }
            }
        }
        for (int c = 0; c < cols; c++) {
            long src = t.bOff + (long) (j + c) * t.bColStride + p0;
            int from = c < blockCols ? blockDepth : 0; // the blocks above covered [0, blockDepth) of these columns
            if (t.bArr != null) {
                int s = (int) src;
                for (int p = from; p < k; p++) dst[base + p * NR + c] = t.bArr[s + p];
            } else {
                for (int p = from; p < k; p++) dst[base + p * NR + c] = t.bSeg.getAtIndex(LE, src + p);
            }
        }
        if (cols < NR) {
            for (int p = 0; p < k; p++) java.util.Arrays.fill(dst, base + p * NR + cols, base + (p + 1) * NR, 0f);
        }
    }

    static int ceilDiv(int a, int b) {
        return (a + b - 1) / b;
    }

    static int roundUp(int a, int b) {
        return ceilDiv(a, b) * b;
    }
}

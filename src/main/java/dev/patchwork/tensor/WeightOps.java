package dev.patchwork.tensor;

import java.nio.ByteOrder;

/**
 * The layers' entry points for reading weights: each looks at where a view lives in its {@link ParameterBuffer} and
 * calls the float32 kernels ({@link Matmul}, {@link EmbeddingKernel}) on the buffer's segment, exactly as before, or
 * the {@link MappedGemv} kernels on a view kept in the checkpoint file in its stored format (BF16, F16, F32).
 *
 * <p>A mapped matrix times a few rows (generation, short prompts) is a set of dot products on the stored values. More
 * rows (evaluation, long prompts) are compute-bound: tiles of the matrix are then widened into a float scratch and
 * multiplied by the packed GEMM, the widening costing one pass over the tile for {@code rows} multiply-adds per value.
 */
public final class WeightOps {
    /**
     * Up to this many rows a mapped matrix is multiplied directly; more rows go through widened tiles and the GEMM.
     * Measured on a 4096 × 4096 BF16 matrix: direct dot products are faster up to 32 rows (18.6 vs 27.1 ms at 16,
     * 34 vs 37 ms at 32), the tiles from 64 (56 vs 89 ms).
     */
    static final int MAX_DIRECT_ROWS = 32;
    /** Float budget of one widened weight tile and of one tile of outputs (4 MB each, and 16 MB). */
    private static final int TILE_WEIGHTS = 1 << 20, TILE_OUTPUTS = 1 << 22;
    /** The widened tile is a heap float[] read as little-endian floats: only true on a little-endian machine. */
    private static final boolean TILES = ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN;

    /** Per-thread scratch of the tiled path: the widened weight tile and the tile's outputs. */
    private static final ThreadLocal<float[][]> SCRATCH = ThreadLocal.withInitial(() -> new float[][]{new float[0], new float[0]});

    private WeightOps() {}

    /** {@code y[rows, out] (+)= x[rows, in]·Wᵀ} with {@code W = p[w]}, {@code W[out, in]}, wherever W is stored. */
    public static void xwT(float[] y, int yOff, float[] x, int xOff, ParameterBuffer p, ParameterLayout.View w,
                           int rows, int out, int in, boolean accumulate) {
        MappedWeight m = p.mapped(w);
        if (m == null) Matmul.xwT(y, yOff, x, xOff, p.segment(), p.offset(w), rows, out, in, accumulate);
        else mappedXwT(y, yOff, out, x, xOff, m, rows, out, in, accumulate);
    }

    /**
     * {@code y[rows, Σ out_j] (+)= x[rows, in]·[W_0 | W_1 | ...]ᵀ}: matrices that share an input and write side by side
     * into one output row (wq | wk | wv, w1 | w3). When the parts sit one after another in the float storage (a
     * layout's {@code addAdjacent}) this is one float32 multiply, as in training; otherwise one per part.
     */
    public static void xwTFused(float[] y, int yOff, float[] x, int xOff, ParameterBuffer p, ParameterLayout.View[] parts,
                                int rows, int in, boolean accumulate) {
        int width = 0;
        boolean adjacent = true;
        long first = p.mapped(parts[0]) == null ? p.offset(parts[0]) : -1;
        for (ParameterLayout.View v : parts) {
            adjacent &= first >= 0 && p.mapped(v) == null && p.offset(v) == first + (long) width * in;
            width += v.rows();
        }
        if (adjacent) {
            Matmul.xwT(y, yOff, x, xOff, p.segment(), first, rows, width, in, accumulate);
            return;
        }
        int col = 0;
        for (ParameterLayout.View v : parts) {
            MappedWeight m = p.mapped(v);
            if (m == null) m = new MappedWeight(p.slice(v), WeightFormat.F32);
            mappedXwT(y, yOff + col, width, x, xOff, m, rows, v.rows(), in, accumulate);
            col += v.rows();
        }
    }

    /** {@code out[i] = p[table][ids[idsOff + i]]} for i in [0, n), rows of {@code dim} values. */
    public static void gather(ParameterBuffer p, ParameterLayout.View table, int vocab, int dim, int[] ids, int idsOff,
                              int n, float[] out, int outOff) {
        MappedWeight m = p.mapped(table);
        if (m == null) EmbeddingKernel.gather(p.segment(), p.offset(table), vocab, dim, ids, idsOff, n, out, outOff);
        else MappedGemv.gather(m, vocab, dim, ids, idsOff, n, out, outOff);
    }

    /** {@link MappedGemv#xwT} contract; many rows go through widened tiles and {@link Matmul#xwT}. */
    static void mappedXwT(float[] y, int yOff, int ldy, float[] x, int xOff, MappedWeight w, int rows, int out, int in,
                          boolean accumulate) {
        if (rows <= MAX_DIRECT_ROWS || !TILES) {
            MappedGemv.xwT(y, yOff, ldy, x, xOff, w, rows, out, in, accumulate);
            return;
        }
        int tile = Math.min(out, Math.max(16, Math.min(TILE_WEIGHTS / in, TILE_OUTPUTS / rows) / 16 * 16));
        float[][] s = SCRATCH.get();
        if (s[0].length < tile * in) s[0] = new float[tile * in];
        if (s[1].length < rows * tile) s[1] = new float[rows * tile];
        float[] wt = s[0], yt = s[1];
        for (int n0 = 0; n0 < out; n0 += tile) {
            int nb = Math.min(tile, out - n0), from = n0;
            Parallel.forRange(nb, (r0, r1) -> MappedGemv.widen(w, ((long) from + r0) * in, wt, r0 * in, (r1 - r0) * in));
            Matmul.xwT(yt, 0, x, xOff, java.lang.foreign.MemorySegment.ofArray(wt), 0, rows, nb, in, false);
            for (int i = 0; i < rows; i++) {
                int o = yOff + i * ldy + n0;
                for (int j = 0; j < nb; j++) y[o + j] = accumulate ? y[o + j] + yt[i * nb + j] : yt[i * nb + j];
            }
        }
    }
}

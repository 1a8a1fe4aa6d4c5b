package dev.patchwork.layers;

/**
 * Keys and values of one attention layer for incremental decoding: each stored row holds the (RoPE-rotated) key and
 * the value of one position, {@code kvHeads·headDim} floats each.
 *
 * <p>A cache takes positions {@code 0 … capacity−1} (the RoPE table's length). It either keeps every position
 * (row = position) or, for a layer with a sliding attention window, only a band of rows: a query never looks further
 * back than {@code window − 1} positions, so {@link #sliding} stores {@code 2·window} rows and, when they are full,
 * moves the rows still visible to the front. Each move copies fewer than {@code window} rows and buys at least
 * {@code window} more steps, so it costs less than one row copy per step, and the memory no longer grows with the
 * context (the released BLT's decoder would otherwise keep 24,576 positions in each of its 9 layers).
 */
public final class KvCache {
    final float[] keys;
    final float[] values;
    final int width;
    private final int capacity;
    private final int rows;
    /** The position held in row 0. */
    private int base;

    /** A cache that keeps every position up to {@code capacity}. */
    public KvCache(int capacity, int kvHeads, int headDim) {
        this(capacity, capacity, kvHeads, headDim);
    }

    private KvCache(int capacity, int rows, int kvHeads, int headDim) {
        this.capacity = capacity;
        this.rows = rows;
        this.width = kvHeads * headDim;
        this.keys = new float[rows * width];
        this.values = new float[rows * width];
    }

    /**
     * A cache for a layer whose queries see at most {@code window} positions (themselves included), or every position
     * when {@code window} is 0: stores {@code min(capacity, 2·window)} rows.
     */
    public static KvCache sliding(int capacity, int window, int kvHeads, int headDim) {
        if (window < 0) throw new IllegalArgumentException("attention window must be >= 0 (0: none), got " + window);
        long rows = window == 0 ? capacity : Math.min(capacity, 2L * window);
        return new KvCache(capacity, (int) rows, kvHeads, headDim);
    }

    /** Positions the cache can take (its rows may be fewer, see {@link #sliding}). */
    public int capacity() {
        return capacity;
    }

    /** The position held in row 0 (0 unless a sliding cache has moved its rows). */
    int base() {
        return base;
    }

    /**
     * The row where position {@code pos} goes, for a query that will see positions {@code keyFrom … pos}. Positions
     * must arrive in order and {@code keyFrom} must never decrease; when the rows are full, rows from {@code keyFrom}
     * on move to the front, so later rows of older positions are lost.
     */
    int rowFor(int pos, int keyFrom) {
        if (pos >= capacity) throw new IllegalArgumentException("position " + pos + " is past the KV cache (" + capacity + ")");
        if (keyFrom < base || keyFrom > pos)
            throw new IllegalArgumentException("keys from position " + keyFrom + " are not in the KV cache (it holds "
                    + base + " … " + (pos - 1) + " before position " + pos + ")");
        if (pos - base >= rows) {
            int keep = pos - keyFrom; // rows keyFrom … pos−1, fewer than `rows` since the window bounds them
            if (keep >= rows)
                throw new IllegalArgumentException("the attention window (" + (keep + 1) + " positions) exceeds the KV cache's " + rows + " rows");
            System.arraycopy(keys, (keyFrom - base) * width, keys, 0, keep * width);
            System.arraycopy(values, (keyFrom - base) * width, values, 0, keep * width);
            base = keyFrom;
        }
        return pos - base;
    }
}

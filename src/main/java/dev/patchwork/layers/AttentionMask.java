package dev.patchwork.layers;

/**
 * Builds the key intervals that {@link dev.patchwork.tensor.AttentionKernel} takes instead of dense masks.
 *
 * <p>Causal self-attention over a batch of {@code B} rows of {@code T} tokens: query {@code t} of row {@code b}
 * (absolute row {@code b·T+t}) may attend key {@code j} of the same row iff {@code j ≤ t}, {@code j > t − window}
 * (when a window is set: at most {@code window} keys, itself included), and no EOS lies in {@code [j, t)}: segments
 * end <em>at</em> each EOS, inclusive (the reference's {@code local_block_causal}, xformers'
 * {@code BlockDiagonalCausalLocalAttentionMask}; spec §6). Segments are contiguous, so the visible keys always form one
 * interval.
 */
public final class AttentionMask {
    /** Visible key rows {@code [from[i], to[i])} of query row {@code i}. */
    public final int[] from;
    public final int[] to;

    public AttentionMask(int capacity) {
        from = new int[capacity];
        to = new int[capacity];
    }

    /**
     * Fills the intervals for causal self-attention.
     *
     * @param ids      token ids of the batch (row-major B×T), used only to find EOS; may be null when {@code eosId < 0}
     * @param window   sliding window (keys per query, itself included) or 0 for none
     * @param eosId    id that ends a segment, or −1 for plain causal attention
     */
    public void causal(int[] ids, int B, int T, int window, int eosId) {
        if (from.length < B * T) throw new IllegalArgumentException("mask capacity " + from.length + " < " + B * T);
        for (int b = 0; b < B; b++) {
            int base = b * T;
            int segStart = 0;
            for (int t = 0; t < T; t++) {
                int lo = segStart;
                if (window > 0) lo = Math.max(lo, t - window + 1);
                from[base + t] = base + lo;
                to[base + t] = base + t + 1;
                if (eosId >= 0 && ids[base + t] == eosId) segStart = t + 1; // EOS closes its segment
            }
        }
    }
}

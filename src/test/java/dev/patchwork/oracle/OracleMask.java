package dev.patchwork.oracle;

/**
 * Dense attention masks built straight from the rule of spec §6, with no interval arithmetic: query {@code t} of a
 * row sees key {@code j} of the same row iff {@code j ≤ t}, {@code j > t − window} (when a window is set) and no EOS
 * lies in {@code [j, t)} (a segment ends at its EOS, inclusive).
 */
public final class OracleMask {
    private OracleMask() {}

    /**
     * @param window keys per query including itself, or 0 for none
     * @param eosId  the id that ends a segment, or −1 for plain causal attention
     * @return {@code visible[b·T + t][j]}
     */
    public static boolean[][] causal(int[] ids, int B, int T, int window, int eosId) {
        boolean[][] visible = new boolean[B * T][T];
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < T; t++) {
                for (int j = 0; j < T; j++) {
                    boolean ok = j <= t && (window == 0 || j > t - window);
                    for (int m = j; ok && m < t; m++) if (ids[b * T + m] == eosId) ok = false;
                    visible[b * T + t][j] = ok;
                }
            }
        }
        return visible;
    }
}

package dev.patchwork.model;

import dev.patchwork.layers.AttentionMask;

import java.util.Arrays;

/**
 * How the bytes of a batch are grouped into patches, and the index arithmetic the BLT derives from it (spec §5, §6).
 *
 * <p>Row {@code b} of the batch has {@code N} byte ids and patch lengths {@code L[b]} (rows with fewer patches are
 * padded on the right with empty patches up to {@code P}). The lengths must cover every byte, and the first patch
 * holds exactly one byte (the reference asserts it: it makes the decoder causal). They usually sum to {@code N+1}: the
 * last patch then holds the virtual next byte, and may hold nothing else.
 * <ul>
 *   <li>encoder patch id {@code pid[j] = #{c ∈ cumsum0(L) : c ≤ j} − 1}: the patch that holds byte j;</li>
 *   <li>decoder patch id {@code dpid = patch ids of L[1:]}, i.e. {@code pid(j+1) − 1}: byte j (which predicts byte
 *       j+1) reads the global output of the patch just before the one holding its target;</li>
 *   <li>global tokens: EOS for a patch holding an EOS byte, BOE (0) otherwise; they cut the global model's
 *       attention into blocks (block_causal).</li>
 * </ul>
 */
public final class BltPatches {
    /** Id of the "beginning of example" filler that marks patches without EOS. */
    public static final int BOE_ID = 0;

    private final int B, N, P;
    private final int[] lengths;        // [B·P], right-padded with zeros
    private final int[] from, to;       // [B·P] the patch's bytes [from, to) within its row, clipped to N
    private final int[] patchIds;       // [B·N]
    private final int[] decoderPatchIds; // [B·N]
    private final int[] globalTokens;   // [B·P]

    private BltPatches(int B, int N, int P, int[] lengths, int[] ids, int eosId) {
        this.B = B;
        this.N = N;
        this.P = P;
        this.lengths = lengths;
        from = new int[B * P];
        to = new int[B * P];
        patchIds = new int[B * N];
        decoderPatchIds = new int[B * N];
        globalTokens = new int[B * P];
        for (int b = 0; b < B; b++) {
            int start = 0;
            for (int p = 0; p < P; p++) {
                from[b * P + p] = Math.min(start, N);
                start += lengths[b * P + p];
                to[b * P + p] = Math.min(start, N);
            }
            patchIds(lengths, b * P, P, N, patchIds, b * N);
            patchIds(lengths, b * P + 1, P - 1, N, decoderPatchIds, b * N);
            Arrays.fill(globalTokens, b * P, (b + 1) * P, BOE_ID);
            for (int j = 0; j < N; j++)
                if (ids[b * N + j] == eosId) globalTokens[b * P + patchIds[b * N + j]] = eosId;
        }
    }

    /**
     * Validates the patch lengths of a batch of {@code B} rows of {@code N} ids.
     *
     * @param lengths one array of patch lengths per row (rows may have different numbers of patches)
     */
    public static BltPatches of(int[] ids, int B, int N, int[][] lengths, int eosId) {
        if (B < 1 || N < 1) throw new IllegalArgumentException("a batch needs B >= 1 rows of N >= 1 ids, got B=" + B + ", N=" + N);
        if (ids.length < B * N) throw new IllegalArgumentException("ids has " + ids.length + " entries, B*N = " + B * N);
        if (lengths.length != B)
            throw new IllegalArgumentException("patch lengths given for " + lengths.length + " rows, but the batch has " + B);
        int P = 0;
        for (int[] row : lengths) P = Math.max(P, row.length);
        int[] padded = new int[B * P];
        for (int b = 0; b < B; b++) {
            int[] row = lengths[b];
            long sum = 0;
            for (int p = 0; p < row.length; p++) {
                if (row[p] < 0)
                    throw new IllegalArgumentException("patch length " + row[p] + " at row " + b + ", patch " + p + " is negative");
                sum += row[p];
            }
            if (row.length == 0 || row[0] != 1)
                throw new IllegalArgumentException("the first patch of row " + b + " must hold exactly one byte (the BOS), got "
                        + (row.length == 0 ? "no patches" : "length " + row[0]));
            if (sum < N)
                throw new IllegalArgumentException("patch lengths of row " + b + " sum to " + sum + " but the row has " + N
                        + " bytes: they must cover every byte (sum N+1 with the virtual next byte)");
            System.arraycopy(row, 0, padded, b * P, row.length);
        }
        return new BltPatches(B, N, P, padded, ids, eosId);
    }

    /** One row. */
    public static BltPatches of(int[] ids, int N, int[] lengths, int eosId) {
        return of(ids, 1, N, new int[][]{lengths}, eosId);
    }

    /** {@code out[outOff + j] = #{c ∈ cumsum0(lengths[off..off+count)) : c ≤ j} − 1} for j in [0, N). */
    static void patchIds(int[] lengths, int off, int count, int N, int[] out, int outOff) {
        int m = 0;          // index into cumsum0 (count + 1 entries)
        long next = count > 0 ? lengths[off] : Long.MAX_VALUE; // cumsum0[m + 1]
        for (int j = 0; j < N; j++) {
            while (m < count && next <= j) {
                m++;
                next = m < count ? next + lengths[off + m] : Long.MAX_VALUE;
            }
            out[outOff + j] = m;
        }
    }

    public int rows() {
        return B;
    }

    public int bytes() {
        return N;
    }

    /** Patches per row (the longest row's count). */
    public int patches() {
        return P;
    }

    /** The encoder patch id of every byte, {@code [B·N]}, row-relative (a copy). */
    public int[] patchIds() {
        return patchIds.clone();
    }

    /** The decoder patch id of every byte, {@code [B·N]}, row-relative (a copy). */
    public int[] decoderPatchIds() {
        return decoderPatchIds.clone();
    }

    /** EOS or BOE for every patch, {@code [B·P]} (a copy). */
    public int[] globalTokens() {
        return globalTokens.clone();
    }

    int[] globalTokensView() {
        return globalTokens;
    }

    /** Byte rows {@code [from[q], to[q])} (absolute, {@code b·N + j}) of every patch {@code q = b·P + p}, for pooling. */
    void patchRows(int[] outFrom, int[] outTo) {
        for (int b = 0; b < B; b++)
            for (int p = 0; p < P; p++) {
                outFrom[b * P + p] = b * N + from[b * P + p];
                outTo[b * P + p] = b * N + to[b * P + p];
            }
    }

    /**
     * Encoder cross-attention (patches → bytes): query {@code (b·P + p)·k + j} sees the bytes of patches
     * {@code p−window+1 … p} of its row (window 1 when null: only its own patch). A patch without bytes sees nothing.
     */
    void encoderCrossMask(AttentionMask m, int k, Integer window) {
        int w = window == null ? 1 : window;
        for (int b = 0; b < B; b++)
            for (int p = 0; p < P; p++) {
                int lo = b * N + from[b * P + Math.max(0, p - w + 1)], hi = b * N + to[b * P + p];
                for (int j = 0; j < k; j++) {
                    m.from[(b * P + p) * k + j] = lo;
                    m.to[(b * P + p) * k + j] = hi;
                }
            }
    }

    /**
     * Decoder cross-attention (bytes → patches): byte {@code b·N + i} sees the k vectors of patches
     * {@code dpid−window+1 … dpid} of its row, i.e. rows {@code (b·P + patch)·k + j} of the projected global output.
     */
    void decoderCrossMask(AttentionMask m, int k, Integer window) {
        int w = window == null ? 1 : window;
        for (int b = 0; b < B; b++)
            for (int i = 0; i < N; i++) {
                int d = decoderPatchIds[b * N + i];
                m.from[b * N + i] = (b * P + Math.max(0, d - w + 1)) * k;
                m.to[b * N + i] = (b * P + d + 1) * k;
            }
    }
}

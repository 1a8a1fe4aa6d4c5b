package dev.patchwork.data;

import java.util.Arrays;
import java.util.List;

/**
 * Rows of a BLT batch, padded to a common length {@code N}: padded inputs are BOE (0), padded targets −1 (ignored by the
 * loss), and each padded row's last patch is extended over its padding so every row's lengths sum to {@code N + 1}.
 * Padding comes after every real position of its row, and the model is causal (bytes and patches), so it changes no
 * real position's output: the last patch's own global output is read by no real position.
 *
 * @param x       inputs {@code [rows · bytes]}
 * @param y       targets {@code [rows · bytes]}, −1 where padded
 * @param lengths patch lengths per row
 * @param targets the real (counted) targets
 */
public record BltBatch(int[] x, int[] y, int rows, int bytes, int[][] lengths, long targets) {
    /** The padding id of the inputs (BOE). */
    public static final int PAD_INPUT = 0;
    /** The padding of the targets: ignored by the loss. */
    public static final int IGNORED = -1;

    public static BltBatch of(List<PackedSequence> sequences) {
        if (sequences.isEmpty()) throw new IllegalArgumentException("a batch needs at least one sequence");
        int B = sequences.size(), N = 0;
        long targets = 0;
        for (PackedSequence s : sequences) {
            N = Math.max(N, s.x().length);
            targets += s.x().length;
        }
        int[] x = new int[B * N], y = new int[B * N];
        int[][] lengths = new int[B][];
        for (int b = 0; b < B; b++) {
            PackedSequence s = sequences.get(b);
            int n = s.x().length;
            System.arraycopy(s.x(), 0, x, b * N, n);
            System.arraycopy(s.y(), 0, y, b * N, n);
            Arrays.fill(x, b * N + n, (b + 1) * N, PAD_INPUT);
            Arrays.fill(y, b * N + n, (b + 1) * N, IGNORED);
            int[] l = s.lengths().clone();
            l[l.length - 1] += N - n;
            lengths[b] = l;
        }
        return new BltBatch(x, y, B, N, lengths, targets);
    }

    /** Patches of the longest row. */
    public int maxPatches() {
        int P = 0;
        for (int[] l : lengths) P = Math.max(P, l.length);
        return P;
    }
}

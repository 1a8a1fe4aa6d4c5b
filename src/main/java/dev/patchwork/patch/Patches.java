package dev.patchwork.patch;

import java.util.Arrays;

/**
 * The patches of one sequence: consecutive runs of positions, given by their lengths (each ≥ 1). The lengths sum to
 * the number of ids {@code N}, or to {@code N+1} when the patcher included the virtual next byte
 * ({@code include_next_token}).
 */
public record Patches(int[] lengths) {
    public Patches {
        lengths = lengths.clone();
        for (int i = 0; i < lengths.length; i++)
            if (lengths[i] < 1) throw new IllegalArgumentException("patch " + i + " has length " + lengths[i] + ": every patch length must be >= 1");
    }

    /** The lengths (a copy). */
    @Override
    public int[] lengths() {
        return lengths.clone();
    }

    public int length(int patch) {
        return lengths[patch];
    }

    public int count() {
        return lengths.length;
    }

    /** Positions covered: the sum of the lengths. */
    public int totalLength() {
        int s = 0;
        for (int l : lengths) s += l;
        return s;
    }

    /** Positions per patch (0 when there are no patches). */
    public double meanPatchSize() {
        return lengths.length == 0 ? 0 : (double) totalLength() / lengths.length;
    }

    /** The first position of every patch: {@code [0, L0, L0+L1, …]} without the total. */
    public int[] starts() {
        int[] s = new int[lengths.length];
        for (int i = 1; i < s.length; i++) s[i] = s[i - 1] + lengths[i - 1];
        return s;
    }

    /** The patch that contains each position, for every position the patches cover (spec §5.1). */
    public int[] patchIdOfEveryByte() {
        return patchIds(totalLength());
    }

    /**
     * Spec §5.1 ({@code patch_ids_from_lengths}): {@code pid[j] = #{c ∈ cumsum0(L) : c ≤ j} − 1} for {@code j < n}, the
     * index of the patch containing position j. The encoder uses {@code n = N} (the ids, not the virtual next byte).
     */
    public int[] patchIds(int n) {
        int total = totalLength();
        if (n < 0 || n > total) throw new IllegalArgumentException("asked for the patch ids of " + n + " positions, but the patches cover " + total);
        int[] pid = new int[n];
        int j = 0;
        for (int p = 0; p < lengths.length && j < n; p++)
            for (int k = 0; k < lengths[p] && j < n; k++) pid[j++] = p;
        return pid;
    }

    /**
     * Spec §5.6 ({@code decoder_patch_ids_from_lengths}): the patch ids of the lengths without the first patch, over
     * {@code n} positions. Decoder position i (input byte i, predicting byte i+1) reads the global output of patch
     * {@code pid(i+1) − 1}: the patch just before the one holding its target.
     */
    public int[] decoderPatchIds(int n) {
        if (lengths.length == 0) throw new IllegalArgumentException("no patches: the decoder needs at least the first one");
        return new Patches(Arrays.copyOfRange(lengths, 1, lengths.length)).patchIds(n);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Patches p && Arrays.equals(lengths, p.lengths);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(lengths);
    }

    @Override
    public String toString() {
        return "Patches" + Arrays.toString(lengths);
    }
}

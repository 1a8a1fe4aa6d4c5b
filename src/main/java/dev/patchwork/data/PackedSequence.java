package dev.patchwork.data;

import java.util.Arrays;

/**
 * One row of a BLT batch: inputs {@code x}, targets {@code y} (the next ids) and patch lengths that cover the inputs
 * plus the last target, {@code Σ lengths = len(x) + 1}, the first patch holding exactly one input (spec §5, §7).
 */
public record PackedSequence(int[] x, int[] y, int[] lengths) {
    public PackedSequence {
        if (x.length != y.length) throw new IllegalArgumentException("x has " + x.length + " ids but y has " + y.length);
        if (x.length < 1) throw new IllegalArgumentException("a packed sequence needs at least one input");
        if (lengths.length < 1 || lengths[0] != 1)
            throw new IllegalArgumentException("the first patch must hold exactly one input, got " + Arrays.toString(Arrays.copyOf(lengths, Math.min(3, lengths.length))));
        long sum = 0;
        for (int l : lengths) {
            if (l < 1) throw new IllegalArgumentException("patch lengths must be >= 1, got " + l);
            sum += l;
        }
        if (sum != x.length + 1L)
            throw new IllegalArgumentException("patch lengths sum to " + sum + " but must cover the " + x.length + " inputs and the last target");
    }

    /**
     * Packs the tokens of {@code S} consecutive patches the reference's way ({@code PackingIterator} after
     * {@code SequenceIterator}): when the first patch holds more than one token it is split into {@code [1, L0−1]} and
     * the last patch (with its tokens) is dropped, so the row keeps {@code S} patches; then {@code x = toks[:-1]},
     * {@code y = toks[1:]}. Rows longer than {@code maxInputs} are cut to that many inputs (the reference truncates at
     * {@code max_encoder_seq_length}), and their patches with them.
     *
     * @param tokens  the tokens of the patches, {@code Σ lengths} of them
     * @param lengths the patch lengths, at least 2 patches
     */
    public static PackedSequence reference(int[] tokens, int[] lengths, int maxInputs) {
        int S = lengths.length;
        if (S < 2) throw new IllegalArgumentException("a sequence needs at least 2 patches, got " + S);
        if (maxInputs < 1) throw new IllegalArgumentException("maxInputs must be >= 1, got " + maxInputs);
        long sum = 0;
        for (int l : lengths) sum += l;
        if (sum != tokens.length)
            throw new IllegalArgumentException("patch lengths sum to " + sum + " but " + tokens.length + " tokens were given");
        int[] L = lengths.clone();
        int n = tokens.length;
        if (L[0] > 1) {
            n -= L[S - 1];
            System.arraycopy(lengths, 0, L, 1, S - 1);
            L[0] = 1;
            L[1] = lengths[0] - 1;
        }
        int inputs = Math.min(n - 1, maxInputs);
        return new PackedSequence(Arrays.copyOfRange(tokens, 0, inputs), Arrays.copyOfRange(tokens, 1, inputs + 1),
                cover(L, inputs + 1));
    }

    /** The leading patches of {@code lengths} cut to cover exactly {@code positions} positions. */
    static int[] cover(int[] lengths, int positions) {
        int p = 0, covered = 0;
        while (covered + lengths[p] < positions) covered += lengths[p++];
        int[] out = Arrays.copyOf(lengths, p + 1);
        out[p] = positions - covered;
        return out;
    }
}

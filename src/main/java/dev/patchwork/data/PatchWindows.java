package dev.patchwork.data;

import java.util.Arrays;
import java.util.function.LongUnaryOperator;

/**
 * Cuts a run of patched tokens into consecutive evaluation windows that score every target exactly once, for a model
 * with limits: at most {@code maxPatches} patches and {@code maxInputs} inputs per window.
 *
 * <p>A window predicts the targets {@code [t, t+n)}: its inputs are the tokens {@code [t−1, t−1+n)}, and its patch
 * lengths are {@code 1} (the input {@code t−1} alone, like the BOS patch at the start of a document) followed by the
 * patches over the targets, so they sum to {@code n+1} as the BLT requires. The next window starts where this one
 * ended; its first input is this window's last target, so no target is skipped and none scored twice, and each window
 * sees no context beyond its one-token prefix (like the byte LM's evaluation windows). A window ends before a patch that
 * no longer fits; a single patch longer than {@code maxInputs} is cut.
 */
public final class PatchWindows {
    /** One window: the first target's position and the patch lengths ({@code lengths[0] = 1}, the prefix). */
    public record Window(long firstTarget, int[] lengths) {
        /** Number of targets (and inputs). */
        public int size() {
            int n = -1;
            for (int l : lengths) n += l;
            return n;
        }
    }

    private final LongUnaryOperator start;
    private final long endPatch;
    private final int maxPatches, maxInputs;
    private long patch, position;

    /**
     * @param start       position of the first token of patch {@code p} (and {@code start(endPatch)} the end)
     * @param firstPatch  the patch holding the first target
     * @param endPatch    one past the last patch
     * @param firstTarget the first position to score, {@code >= 1} and within {@code firstPatch}
     * @param maxPatches  patches per window, prefix included ({@code >= 2})
     * @param maxInputs   inputs per window ({@code >= 1})
     */
    public PatchWindows(LongUnaryOperator start, long firstPatch, long endPatch, long firstTarget, int maxPatches, int maxInputs) {
        if (maxPatches < 2) throw new IllegalArgumentException("a window needs room for at least 2 patches, got " + maxPatches);
        if (maxInputs < 1) throw new IllegalArgumentException("a window needs room for at least 1 input, got " + maxInputs);
        if (firstTarget < 1) throw new IllegalArgumentException("the first target must have an input before it, got position " + firstTarget);
        if (firstPatch < endPatch && (firstTarget < start.applyAsLong(firstPatch) || firstTarget > start.applyAsLong(firstPatch + 1)))
            throw new IllegalArgumentException("the first target " + firstTarget + " is not in patch " + firstPatch);
        this.start = start;
        this.endPatch = endPatch;
        this.maxPatches = maxPatches;
        this.maxInputs = maxInputs;
        this.patch = firstPatch;
        this.position = firstTarget;
        skipFinishedPatch();
    }

    /** Windows over whole documents patched on their own: targets {@code 1 … Σ lengths − 1} (BOS is never a target). */
    public static PatchWindows ofDocument(int[] lengths, int maxPatches, int maxInputs) {
        long[] starts = new long[lengths.length + 1];
        for (int p = 0; p < lengths.length; p++) starts[p + 1] = starts[p] + lengths[p];
        return new PatchWindows(p -> starts[(int) p], 0, lengths.length, 1, maxPatches, maxInputs);
    }

    public boolean hasNext() {
        return patch < endPatch;
    }

    public Window next() {
        if (!hasNext()) throw new java.util.NoSuchElementException("no window left");
        long first = position;
        int[] lengths = new int[Math.min(maxPatches, 64)];
        lengths[0] = 1;
        int count = 1, inputs = 0;
        while (patch < endPatch && count < maxPatches && inputs < maxInputs) {
            long piece = start.applyAsLong(patch + 1) - position;
            long take = Math.min(piece, maxInputs - inputs);
            if (take < piece && count > 1) break; // the patch goes whole into the next window
            if (count == lengths.length) lengths = Arrays.copyOf(lengths, Math.min(maxPatches, 2 * count));
            lengths[count++] = (int) take;
            inputs += (int) take;
            position += take;
            skipFinishedPatch();
        }
        return new Window(first, Arrays.copyOf(lengths, count));
    }

    private void skipFinishedPatch() {
        while (patch < endPatch && position >= start.applyAsLong(patch + 1)) patch++;
    }
}

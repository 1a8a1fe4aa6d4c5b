package dev.patchwork.train;

import dev.patchwork.data.Batcher;
import dev.patchwork.data.BltBatch;
import dev.patchwork.data.ByteCorpus;
import dev.patchwork.data.CorpusSplit;
import dev.patchwork.data.DataException;
import dev.patchwork.data.PackedSequence;
import dev.patchwork.data.PatchWindows;
import dev.patchwork.patch.CorpusPatches;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * BLT training batches from a patched corpus, the reference's way (spec §7): a sequence is {@code seq_len}
 * consecutive patches of the corpus' patch stream (documents patched on their own, then concatenated, so sequences
 * cross document boundaries and EOS cuts the attention), packed by {@link PackedSequence#reference}. Sequences are
 * drawn at uniformly random patch positions of the training split like the byte LM's {@link Batcher}: each batch is a
 * pure function of {@code (seed, step)}, which makes resumes bit-identical.
 *
 * <p>The training split holds the patches that end at or before the split point; held-out evaluation covers the
 * patches from the first one that starts at or after it, in consecutive {@link PatchWindows} of at most
 * {@code seq_len} patches, each target scored once.
 */
public final class BltBatcher {
    private final ByteCorpus corpus;
    private final CorpusPatches patches;
    private final long seed;
    private final int seqLen, maxInputs;
    private final long trainPatches, heldOutFirstPatch;

    /**
     * @param seqLen    patches per sequence ({@code >= 2})
     * @param maxInputs inputs per row at most ({@code max_encoder_seq_length})
     */
    public BltBatcher(ByteCorpus corpus, CorpusPatches patches, CorpusSplit split, long seed, int seqLen, int maxInputs) {
        if (split.tokens() != corpus.tokens() || patches.start(patches.count()) != corpus.tokens())
            throw new IllegalArgumentException("the split and the patches must be of this corpus");
        if (seqLen < 2) throw new IllegalArgumentException("a sequence needs at least 2 patches, got seq_len " + seqLen);
        this.corpus = corpus;
        this.patches = patches;
        this.seed = seed;
        this.seqLen = seqLen;
        this.maxInputs = maxInputs;
        this.trainPatches = patches.firstAtOrAfter(split.trainEnd() + 1) - 1;
        this.heldOutFirstPatch = patches.firstAtOrAfter(split.trainEnd());
        if (trainPatches < seqLen)
            throw new DataException("corpus " + corpus.description() + " has " + trainPatches + " training patches, fewer than one sequence of seq_len = "
                    + seqLen + " patches: use more data or a smaller seq_len");
    }

    /** Patches of the training split: {@code [0, trainPatches())}. */
    public long trainPatches() {
        return trainPatches;
    }

    /** Patches of the held-out split. */
    public long heldOutPatches() {
        return patches.count() - heldOutFirstPatch;
    }

    /** The first patch of each sequence of {@code step}'s batch. */
    public long[] sequenceStarts(long step, int batchSize) {
        if (step < 0) throw new IllegalArgumentException("step must be >= 0, got " + step);
        if (batchSize < 1) throw new IllegalArgumentException("batch size must be >= 1, got " + batchSize);
        SplittableRandom random = new SplittableRandom(Batcher.stepSeed(seed, step));
        long choices = trainPatches - seqLen + 1;
        long[] starts = new long[batchSize];
        for (int b = 0; b < batchSize; b++) starts[b] = random.nextLong(choices);
        return starts;
    }

    /** The training batch of {@code step}. */
    public BltBatch batch(long step, int batchSize) {
        List<PackedSequence> rows = new ArrayList<>(batchSize);
        for (long p : sequenceStarts(step, batchSize)) rows.add(sequence(p));
        return BltBatch.of(rows);
    }

    /** The packed sequence of patches {@code [firstPatch, firstPatch + seq_len)}. */
    public PackedSequence sequence(long firstPatch) {
        long from = patches.start(firstPatch), to = patches.start(firstPatch + seqLen);
        if (to - from > Integer.MAX_VALUE - 8)
            throw new DataException("patches " + firstPatch + "… hold " + (to - from) + " tokens, too many for one sequence: set max_patch_length");
        int[] lengths = new int[seqLen];
        for (int i = 0; i < seqLen; i++) lengths[i] = patches.length(firstPatch + i);
        return PackedSequence.reference(corpus.ids(from, (int) (to - from)), lengths, maxInputs);
    }

    /** The held-out windows, from the start. */
    public PatchWindows heldOut() {
        if (heldOutFirstPatch >= patches.count())
            throw new DataException("the held-out split of " + corpus.description() + " holds no whole patch: raise eval_fraction or add data");
        return new PatchWindows(patches::start, heldOutFirstPatch, patches.count(), patches.start(heldOutFirstPatch),
                seqLen, maxInputs);
    }

    /** The inputs, targets and patch lengths of a window over the corpus. */
    public PackedSequence window(PatchWindows.Window w) {
        int n = w.size();
        int[] tokens = corpus.ids(w.firstTarget() - 1, n + 1);
        return new PackedSequence(java.util.Arrays.copyOf(tokens, n), java.util.Arrays.copyOfRange(tokens, 1, n + 1), w.lengths());
    }
}

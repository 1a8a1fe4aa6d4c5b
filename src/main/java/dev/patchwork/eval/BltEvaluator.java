package dev.patchwork.eval;

import dev.patchwork.data.BltBatch;
import dev.patchwork.data.ByteTokens;
import dev.patchwork.data.CorpusSource;
import dev.patchwork.data.PackedSequence;
import dev.patchwork.data.PatchWindows;
import dev.patchwork.model.Blt;
import dev.patchwork.patch.EntropyModel;
import dev.patchwork.patch.Patcher;
import dev.patchwork.patch.Patches;
import dev.patchwork.util.PatchworkException;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Bits per byte of a BLT over a corpus by the reference's convention (spec §7 and the reference-tiny golden data):
 * every document is {@code BOS + bytes + EOS}, its entropies are computed on it alone, it is patched on its own with
 * {@code include_next_token=false} (so its lengths sum to its length), inputs {@code ids[:-1]}, targets
 * {@code ids[1:]} (the EOS prediction counts, BOS is never a target), {@code bpb = Σ NLL / ln 2 / #targets}.
 *
 * <p>A document longer than the model's limits ({@code max_seqlen} patches, {@code max_encoder_seq_length} bytes, or
 * fewer patches when asked) is scored in consecutive {@link PatchWindows}: each window holds whole patches (a patch
 * longer than the byte limit is cut), starts with the previous window's last target as a one-byte first patch (the
 * BOS plays that part in the first window), and sees no other context; every target is scored exactly once. A
 * document that fits is one window, exactly the reference's batch.
 *
 * <p>Also measures the mean patch size (positions per patch, BOS and EOS included, over all documents) and the mean
 * window length, from which {@link FlopAccounting} gives the FLOPs per byte.
 */
public final class BltEvaluator {
    /**
     * @param meanPatchSize     positions per patch over all documents
     * @param meanContextBytes  inputs per window
     */
    public record Result(double bitsPerByte, double lossNats, long bytes, long targets, long documents, long windows,
                         long patches, double meanPatchSize, double meanContextBytes, double flopsPerByteInference,
                         double flopsPerByteTrain, double seconds) {}

    private final Blt model;
    private final EntropyModel entropyModel;
    private final Patcher patcher;
    private final int batch, maxPatches;
    private final List<PackedSequence> rows = new ArrayList<>();
    private double nats;
    private long targets, windows, inputs, patches, positions;

    /**
     * @param entropyModel required when the patcher reads entropies, else ignored (may be null)
     * @param maxPatches   patches per window at most (the model's {@code max_seqlen} or fewer)
     */
    public BltEvaluator(Blt model, EntropyModel entropyModel, Patcher patcher, int batch, int maxPatches) {
        if (batch < 1) throw new PatchworkException("the batch size must be >= 1, got " + batch);
        if (maxPatches < 2 || maxPatches > model.config().maxSeqlen())
            throw new PatchworkException("patches per window must be in [2, max_seqlen = " + model.config().maxSeqlen() + "], got " + maxPatches);
        if (patcher.usesEntropies() && entropyModel == null)
            throw new PatchworkException(patcher.describe() + " patching needs an entropy model, and the model directory has no entropy_model/");
        this.model = model;
        this.entropyModel = entropyModel;
        this.patcher = patcher;
        this.batch = batch;
        this.maxPatches = maxPatches;
    }

    public Result evaluate(CorpusSource source) {
        long start = System.nanoTime();
        long[] bytes = {0}, docs = {0};
        try {
            source.forEachDocument((name, content) -> {
                byte[] b = content.readAllBytes();
                scoreDocument(ByteTokens.encode(b, true, true));
                bytes[0] += b.length;
                docs[0]++;
            });
        } catch (IOException e) {
            throw new PatchworkException("cannot read " + source.description() + ": " + e.getMessage());
        }
        flush();
        if (targets == 0) throw new PatchworkException(source.description() + " holds no documents to evaluate");
        double loss = nats / targets;
        double patchSize = (double) positions / patches, context = (double) inputs / windows;
        double flops = FlopAccounting.bltPerByte(model.config(), context, patchSize);
        return new Result(loss / Math.log(2), loss, bytes[0], targets, docs[0], windows, patches, patchSize, context,
                flops, FlopAccounting.train(flops), (System.nanoTime() - start) / 1e9);
    }

    /** Patches one document ({@code BOS + bytes + EOS}) and queues its windows. */
    private void scoreDocument(int[] ids) {
        float[] h = patcher.usesEntropies() ? entropyModel.entropies(ids) : null;
        Patches p = patcher.patch(ids, h, false);
        patches += p.count();
        positions += ids.length;
        PatchWindows w = PatchWindows.ofDocument(p.lengths(), maxPatches, model.config().maxEncoderSeqLength());
        while (w.hasNext()) {
            PatchWindows.Window window = w.next();
            int first = (int) window.firstTarget(), n = window.size();
            rows.add(new PackedSequence(Arrays.copyOfRange(ids, first - 1, first - 1 + n),
                    Arrays.copyOfRange(ids, first, first + n), window.lengths()));
            windows++;
            inputs += n;
            if (rows.size() == batch) flush();
        }
    }

    private void flush() {
        if (rows.isEmpty()) return;
        BltBatch b = BltBatch.of(rows);
        model.forward(b.x(), b.rows(), b.bytes(), b.lengths());
        nats += model.loss(b.y(), null, false);
        targets += b.targets();
        rows.clear();
    }
}

package dev.patchwork.eval;

import dev.patchwork.data.ByteTokens;
import dev.patchwork.data.CorpusSource;
import dev.patchwork.model.Megabyte;
import dev.patchwork.util.PatchworkException;

import java.io.IOException;
import java.io.InputStream;

/**
 * Bits per byte of a {@link Megabyte} over a corpus, counted like {@link ByteLmEvaluator}: every document is
 * {@code BOS + bytes + EOS}, each byte and the EOS are predicted (BOS never is), {@code bpb = Σ NLL / ln 2 / #targets}.
 *
 * <p>MEGABYTE predicts every id of its input, so a document is cut into consecutive windows of {@code seqLen} ids
 * (a multiple of the patch size), each scored on its own (the first id of a later window is predicted from the
 * pads alone, as in training); the last window is padded with ignored positions.
 */
public final class MegabyteEvaluator {
    /** The outcome of an evaluation. */
    public record Result(double bitsPerByte, double lossNats, long bytes, long targets, long documents, double seconds) {}

    private final int seqLen;
    private final WindowBatches batches;

    public MegabyteEvaluator(Megabyte model, int batch, int seqLen) {
        if (batch < 1 || seqLen < 1) throw new PatchworkException("batch and seq_len must be >= 1");
        if (seqLen > model.config().maxSeqlen())
            throw new PatchworkException("seq_len " + seqLen + " exceeds the model's max_seqlen " + model.config().maxSeqlen());
        if (seqLen % model.config().patchSize() != 0)
            throw new PatchworkException("seq_len " + seqLen + " must be a multiple of the patch size " + model.config().patchSize());
        this.seqLen = seqLen;
        this.batches = new WindowBatches(model, batch, seqLen);
    }

    public Result evaluate(CorpusSource source) {
        long start = System.nanoTime();
        WindowBatches.Read read = WindowBatches.forEachDocument(source, this::scoreDocument);
        double loss = batches.totalNats(source.description()) / batches.targets();
        return new Result(loss / Math.log(2), loss, read.bytes(), batches.targets(), read.documents(), (System.nanoTime() - start) / 1e9);
    }

    /** Streams one document through windows; returns its byte count. */
    private long scoreDocument(InputStream in) throws IOException {
        int[] window = new int[seqLen];
        int n = 0;
        window[n++] = ByteTokens.BOS;
        boolean first = true;
        long count = 0;
        byte[] buf = new byte[8192];
        int r;
        while ((r = in.read(buf)) > 0) {
            for (int i = 0; i < r; i++) {
                window[n++] = ByteTokens.id(buf[i]);
                count++;
                if (n == seqLen) {
                    batches.add(window, 0, 0, n, first); // each id its own target; BOS is given, never predicted
                    first = false;
                    n = 0;
                }
            }
        }
        window[n++] = ByteTokens.EOS;
        batches.add(window, 0, 0, n, first);
        return count;
    }
}

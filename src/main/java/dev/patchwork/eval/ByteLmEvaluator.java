package dev.patchwork.eval;

import dev.patchwork.data.CorpusSource;
import dev.patchwork.model.ByteLm;
import dev.patchwork.util.PatchworkException;

import java.io.IOException;
import java.io.InputStream;

/**
 * Bits per byte of a byte LM over a corpus, by the reference's convention (spec §7): every document is
 * {@code BOS + bytes + EOS}, inputs {@code ids[:-1]}, targets {@code ids[1:]} (so the EOS prediction counts and BOS is
 * never a target), {@code bpb = Σ NLL / ln 2 / #targets}.
 *
 * <p>A document longer than the context is scored in consecutive windows of {@code seqLen} targets; each window sees
 * only its own bytes (no overlap), as nanoGPT's evaluation does. Documents are streamed, never loaded whole.
 */
public final class ByteLmEvaluator {
    /** The outcome of an evaluation. */
    public record Result(double bitsPerByte, double lossNats, long bytes, long targets, long documents, double seconds) {}

    private final int seqLen;
    private final WindowBatches batches;

    public ByteLmEvaluator(ByteLm model, int batch, int seqLen) {
        if (seqLen > model.config().maxSeqlen())
            throw new PatchworkException("seq_len " + seqLen + " exceeds the model's max_seqlen " + model.config().maxSeqlen());
        if (batch < 1 || seqLen < 1) throw new PatchworkException("batch and seq_len must be >= 1");
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
        int[] window = new int[seqLen + 1];
        int n = 0;
        window[n++] = 1; // BOS
        long count = 0;
        byte[] buf = new byte[8192];
        int r;
        while ((r = in.read(buf)) > 0) {
            for (int i = 0; i < r; i++) {
                window[n++] = (buf[i] & 0xff) + 4;
                count++;
                if (n == seqLen + 1) {
                    addWindow(window, n);
                    window[0] = window[seqLen]; // the last target is the next window's first input
                    n = 1;
                }
            }
        }
        window[n++] = 2; // EOS
        addWindow(window, n);
        return count;
    }

    /** Adds a window of {@code n} ids: {@code n - 1} inputs and their next-id targets. */
    private void addWindow(int[] ids, int n) {
        if (n < 2) return;
        batches.add(ids, 0, 1, n - 1, false);
    }
}

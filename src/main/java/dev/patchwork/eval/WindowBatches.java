package dev.patchwork.eval;

import dev.patchwork.data.CorpusSource;
import dev.patchwork.model.WindowModel;
import dev.patchwork.util.PatchworkException;

import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;

/**
 * The batching shared by the window evaluators ({@link ByteLmEvaluator}, {@link MegabyteEvaluator},
 * {@link TokenLmEvaluator}): scored windows are packed as rows of {@code seqLen} (the tail of a short row padded with
 * input 0 and ignored targets), and a full batch is run through the model, its summed loss added up. Rows keep the
 * order they were added in, so the sums are the same for a given batch size.
 */
final class WindowBatches {
    /** Scores one document of a corpus; returns its byte count. */
    @FunctionalInterface
    interface DocumentScorer {
        long score(InputStream content) throws IOException;
    }

    /** How much of a corpus was read. */
    record Read(long bytes, long documents) {}

    private final WindowModel model;
    private final int batch, seqLen;
    private final int[] x, y;
    private int rows;
    private double nats;
    private long targets;

    WindowBatches(WindowModel model, int batch, int seqLen) {
        this.model = model;
        this.batch = batch;
        this.seqLen = seqLen;
        this.x = new int[batch * seqLen];
        this.y = new int[batch * seqLen];
    }

    /** Runs {@code scorer} on every document of {@code source}, in order. */
    static Read forEachDocument(CorpusSource source, DocumentScorer scorer) {
        long[] bytes = {0}, docs = {0};
        try {
            source.forEachDocument((name, content) -> {
                bytes[0] += scorer.score(content);
                docs[0]++;
            });
        } catch (IOException e) {
            throw new PatchworkException("cannot read " + source.description() + ": " + e.getMessage());
        }
        return new Read(bytes[0], docs[0]);
    }

    /**
     * Adds a row of {@code n <= seqLen} positions: inputs {@code ids[inputFrom, inputFrom + n)}, targets
     * {@code ids[targetFrom, targetFrom + n)}; with {@code firstIgnored}, the first target is not scored (an id that is
     * given, never predicted). Runs the batch once it is full.
     */
    void add(int[] ids, int inputFrom, int targetFrom, int n, boolean firstIgnored) {
        int base = rows * seqLen;
        System.arraycopy(ids, inputFrom, x, base, n);
        System.arraycopy(ids, targetFrom, y, base, n);
        if (firstIgnored) y[base] = -1;
        Arrays.fill(x, base + n, base + seqLen, 0);
        Arrays.fill(y, base + n, base + seqLen, -1);
        targets += firstIgnored ? n - 1 : n;
        if (++rows == batch) flush();
    }

    /**
     * Runs the rows still waiting and returns the summed loss in nats of every row added so far.
     *
     * @param what the scored corpus, for the error when nothing was scored
     */
    double totalNats(String what) {
        flush();
        if (targets == 0) throw new PatchworkException(what + " holds no documents to evaluate");
        return nats;
    }

    /** Runs the rows added since the last full batch. */
    private void flush() {
        if (rows == 0) return;
        model.forward(x, rows, seqLen);
        nats += model.loss(y, null, false);
        rows = 0;
    }

    /** Number of scored targets added so far. */
    long targets() {
        return targets;
    }

    /** Starts new sums (the next evaluation). */
    void reset() {
        nats = 0;
        targets = 0;
    }
}

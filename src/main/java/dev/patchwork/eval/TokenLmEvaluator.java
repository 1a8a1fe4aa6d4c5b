package dev.patchwork.eval;

import dev.patchwork.data.ByteTokens;
import dev.patchwork.data.CorpusSource;
import dev.patchwork.model.ByteLm;
import dev.patchwork.tokenizer.BpeTokenizer;
import dev.patchwork.tokenizer.TokenizedSplit;
import dev.patchwork.util.PatchworkException;

import java.io.IOException;
import java.util.Arrays;

/**
 * Bits per byte of a token-level (BPE) LM, comparable with {@link ByteLmEvaluator}'s: every document is
 * {@code BOS + tokens + EOS}, each token predicted once, and
 * {@code bpb = Σ NLL(tokens) / (ln 2 · bytes covered)}, where the bytes covered are the document's bytes plus one for
 * its EOS, exactly the byte LM's number of targets. Long documents are scored in consecutive windows of
 * {@code seqLen} targets, each seeing only its own tokens.
 */
public final class TokenLmEvaluator {
    /**
     * @param lossNats nats per byte covered
     * @param bytes    content bytes (without the EOS positions)
     * @param tokens   predicted tokens (EOS included)
     */
    public record Result(double bitsPerByte, double lossNats, long bytes, long tokens, long documents, double seconds) {
        /** Content bytes per predicted token (EOS included). */
        public double bytesPerToken() {
            return (double) bytes / tokens;
        }
    }

    private final ByteLm model;
    private final BpeTokenizer tokenizer;
    private final int batch, seqLen;
    private final int[] x, y;
    private int rows;
    private double nats;
    private long targets;

    public TokenLmEvaluator(ByteLm model, BpeTokenizer tokenizer, int batch, int seqLen) {
        if (model.config().vocabSize() != TokenizedSplit.lmVocab(tokenizer))
            throw new PatchworkException("the model's vocab_size " + model.config().vocabSize() + " is not 4 + the tokenizer's "
                    + tokenizer.vocabSize() + " tokens: wrong tokenizer.json for this model?");
        if (seqLen > model.config().maxSeqlen())
            throw new PatchworkException("seq_len " + seqLen + " exceeds the model's max_seqlen " + model.config().maxSeqlen());
        if (batch < 1 || seqLen < 1) throw new PatchworkException("batch and seq_len must be >= 1");
        this.model = model;
        this.tokenizer = tokenizer;
        this.batch = batch;
        this.seqLen = seqLen;
        this.x = new int[batch * seqLen];
        this.y = new int[batch * seqLen];
    }

    /** Scores every document of {@code source} (each is read whole to be tokenized). */
    public Result evaluate(CorpusSource source) {
        long start = System.nanoTime();
        long[] bytes = {0, 0};
        try {
            source.forEachDocument((name, content) -> {
                bytes[0] += scoreDocument(content.readAllBytes());
                bytes[1]++;
            });
        } catch (IOException e) {
            throw new PatchworkException("cannot read " + source.description() + ": " + e.getMessage());
        }
        return finish(bytes[0], bytes[1], start, source.description());
    }

    /** Scores the given documents. */
    public Result evaluate(byte[]... documents) {
        long start = System.nanoTime(), bytes = 0;
        for (byte[] d : documents) bytes += scoreDocument(d);
        return finish(bytes, documents.length, start, "the documents");
    }

    private Result finish(long bytes, long documents, long start, String what) {
        flush();
        if (targets == 0) throw new PatchworkException(what + " holds no documents to evaluate");
        long covered = bytes + documents; // one EOS per document
        double perByte = nats / covered;
        Result r = new Result(perByte / Math.log(2), perByte, bytes, targets, documents, (System.nanoTime() - start) / 1e9);
        nats = 0;
        targets = 0;
        return r;
    }

    /** Streams one document's ids through windows; returns its byte count. */
    private long scoreDocument(byte[] content) {
        int[] tokens = tokenizer.encode(content);
        int[] ids = new int[tokens.length + 2];
        ids[0] = ByteTokens.BOS;
        for (int i = 0; i < tokens.length; i++) ids[i + 1] = TokenizedSplit.lmId(tokens[i]);
        ids[ids.length - 1] = ByteTokens.EOS;
        // window k: inputs ids[k·T, k·T + T), targets one further; the last target of a window is the next one's first input
        for (int from = 0; from < ids.length - 1; from += seqLen) addWindow(ids, from, Math.min(seqLen, ids.length - 1 - from));
        return content.length;
    }

    private void addWindow(int[] ids, int from, int n) {
        int base = rows * seqLen;
        System.arraycopy(ids, from, x, base, n);
        System.arraycopy(ids, from + 1, y, base, n);
        Arrays.fill(x, base + n, base + seqLen, 0);
        Arrays.fill(y, base + n, base + seqLen, -1);
        targets += n;
        if (++rows == batch) flush();
    }

    private void flush() {
        if (rows == 0) return;
        model.forward(x, rows, seqLen);
        nats += model.loss(y, null, false);
        rows = 0;
    }
}

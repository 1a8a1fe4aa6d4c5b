package dev.patchwork.eval;

import dev.patchwork.data.ByteTokens;
import dev.patchwork.data.CorpusSource;
import dev.patchwork.model.ByteLm;
import dev.patchwork.tokenizer.BpeTokenizer;
import dev.patchwork.tokenizer.TokenizedSplit;
import dev.patchwork.util.PatchworkException;


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

    private final BpeTokenizer tokenizer;
    private final int seqLen;
    private final WindowBatches batches;

    public TokenLmEvaluator(ByteLm model, BpeTokenizer tokenizer, int batch, int seqLen) {
        if (model.config().vocabSize() != TokenizedSplit.lmVocab(tokenizer))
            throw new PatchworkException("the model's vocab_size " + model.config().vocabSize() + " is not 4 + the tokenizer's "
                    + tokenizer.vocabSize() + " tokens: wrong tokenizer.json for this model?");
        if (seqLen > model.config().maxSeqlen())
            throw new PatchworkException("seq_len " + seqLen + " exceeds the model's max_seqlen " + model.config().maxSeqlen());
        if (batch < 1 || seqLen < 1) throw new PatchworkException("batch and seq_len must be >= 1");
        this.tokenizer = tokenizer;
        this.seqLen = seqLen;
        this.batches = new WindowBatches(model, batch, seqLen);
    }

    /** Scores every document of {@code source} (each is read whole to be tokenized). */
    public Result evaluate(CorpusSource source) {
        long start = System.nanoTime();
        WindowBatches.Read read = WindowBatches.forEachDocument(source, content -> scoreDocument(content.readAllBytes()));
        return finish(read.bytes(), read.documents(), start, source.description());
    }

    /** Scores the given documents. */
    public Result evaluate(byte[]... documents) {
        long start = System.nanoTime(), bytes = 0;
        for (byte[] d : documents) bytes += scoreDocument(d);
        return finish(bytes, documents.length, start, "the documents");
    }

    private Result finish(long bytes, long documents, long start, String what) {
        long covered = bytes + documents; // one EOS per document
        double perByte = batches.totalNats(what) / covered;
        Result r = new Result(perByte / Math.log(2), perByte, bytes, batches.targets(), documents, (System.nanoTime() - start) / 1e9);
        batches.reset();
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
        for (int from = 0; from < ids.length - 1; from += seqLen)
            batches.add(ids, from, from + 1, Math.min(seqLen, ids.length - 1 - from), false);
        return content.length;
    }
}

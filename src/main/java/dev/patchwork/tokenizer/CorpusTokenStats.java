package dev.patchwork.tokenizer;

import dev.patchwork.data.CorpusSource;
import dev.patchwork.util.PatchworkException;

import java.io.IOException;

/** Reads a corpus document by document for the tokenizer: training and measuring bytes per token. */
public final class CorpusTokenStats {
    /** Bytes and tokens of a corpus under a tokenizer. */
    public record Counts(long bytes, long tokens, long documents) {
        public double bytesPerToken() {
            return tokens == 0 ? Double.NaN : (double) bytes / tokens;
        }
    }

    private CorpusTokenStats() {}

    /** Adds every document of {@code source} to {@code trainer} (each document is read whole). */
    public static void addAll(BpeTrainer trainer, CorpusSource source) {
        forEach(source, trainer::add);
    }

    /** Encodes every document of {@code source} and counts bytes and tokens. */
    public static Counts count(BpeTokenizer tokenizer, CorpusSource source) {
        long[] c = new long[3];
        forEach(source, doc -> {
            c[0] += doc.length;
            c[1] += tokenizer.encode(doc).length;
            c[2]++;
        });
        return new Counts(c[0], c[1], c[2]);
    }

    private static void forEach(CorpusSource source, java.util.function.Consumer<byte[]> action) {
        try {
            source.forEachDocument((name, in) -> action.accept(in.readAllBytes()));
        } catch (IOException e) {
            throw new PatchworkException("cannot read " + source.description() + ": " + e.getMessage());
        }
    }
}

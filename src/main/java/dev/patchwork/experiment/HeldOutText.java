package dev.patchwork.experiment;

import dev.patchwork.data.ByteCorpus;
import dev.patchwork.data.CorpusSplit;
import dev.patchwork.eval.noise.NoisedCorpus;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * The held-out text of an experiment, written as one file per document: the bytes of the corpus' held-out split
 * ({@link CorpusSplit}: the last fraction of the token stream, which no trainer trains on), document by document, the
 * first one possibly starting mid-document where the split cuts, up to {@code maxBytes} bytes.
 */
final class HeldOutText {
    private static final int BOS = 1, EOS = 2, OFFSET = 4;

    /** What was written. */
    record Stats(long documents, long bytes) {}

    private HeldOutText() {}

    static Stats write(ByteCorpus corpus, double fraction, long maxBytes, Path dir) throws IOException {
        if (Files.exists(dir)) {
            try (Stream<Path> s = Files.walk(dir)) {
                for (Path p : s.sorted(Comparator.reverseOrder()).toList()) Files.delete(p);
            }
        }
        Files.createDirectories(dir);
        CorpusSplit split = corpus.split(fraction);
        ByteArrayOutputStream doc = new ByteArrayOutputStream();
        long documents = 0, bytes = 0;
        int chunk = 1 << 16;
        for (long pos = split.trainEnd(); pos < split.tokens() && bytes < maxBytes; pos += chunk) {
            int[] ids = corpus.ids(pos, (int) Math.min(chunk, split.tokens() - pos));
            for (int id : ids) {
                if (id == BOS || id == EOS) {
                    documents += flush(doc, dir, documents);
                } else if (id >= OFFSET) {
                    doc.write(id - OFFSET);
                    if (++bytes == maxBytes) break;
                }
            }
        }
        documents += flush(doc, dir, documents);
        return new Stats(documents, bytes);
    }

    /** Writes the document gathered so far, if it has bytes; returns how many documents it wrote (0 or 1). */
    private static int flush(ByteArrayOutputStream doc, Path dir, long index) throws IOException {
        if (doc.size() == 0) return 0;
        Files.write(dir.resolve(NoisedCorpus.fileName(index)), doc.toByteArray());
        doc.reset();
        return 1;
    }
}

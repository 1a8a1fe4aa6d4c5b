package dev.patchwork.eval.noise;

import dev.patchwork.data.CorpusSource;
import dev.patchwork.util.PatchworkException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.SplittableRandom;
import java.util.stream.Stream;

/**
 * A corpus with {@link Noise} applied to every document, written as one file per document into a directory (so the
 * evaluators read it as any other {@link CorpusSource}, in the same document order). Document {@code d} is noised with
 * its own stream seeded from {@code (seed, d)}, so one document's noise does not depend on the others.
 */
public final class NoisedCorpus implements AutoCloseable {
    private final Path dir;
    private final boolean temporary;
    private final long documents;

    private NoisedCorpus(Path dir, boolean temporary, long documents) {
        this.dir = dir;
        this.temporary = temporary;
        this.documents = documents;
    }

    /** Noises {@code source} into a temporary directory, deleted by {@link #close}. */
    public static NoisedCorpus temporary(CorpusSource source, Noise noise, long seed) throws IOException {
        Path dir = Files.createTempDirectory("patchwork-noise-");
        try {
            return new NoisedCorpus(dir, true, write(source, noise, seed, dir));
        } catch (IOException | RuntimeException e) {
            deleteTree(dir);
            throw e;
        }
    }

    /** Noises {@code source} into {@code dir} (created; files of an earlier write are replaced), kept after close. */
    public static NoisedCorpus into(CorpusSource source, Noise noise, long seed, Path dir) throws IOException {
        if (Files.exists(dir)) deleteTree(dir);
        Files.createDirectories(dir);
        return new NoisedCorpus(dir, false, write(source, noise, seed, dir));
    }

    private static long write(CorpusSource source, Noise noise, long seed, Path dir) throws IOException {
        long[] d = {0};
        source.forEachDocument((name, content) -> {
            byte[] noised = noise.apply(content.readAllBytes(), documentRandom(seed, d[0]));
            Files.write(dir.resolve(fileName(d[0])), noised);
            d[0]++;
        });
        if (d[0] == 0) throw new PatchworkException(source.description() + " holds no documents to noise");
        return d[0];
    }

    /** The random stream of document {@code d}: a fixed function of (seed, d). */
    static SplittableRandom documentRandom(long seed, long d) {
        return new SplittableRandom(seed * 0x9E3779B97F4A7C15L + d);
    }

    /** Names that sort in document order (a directory corpus is read in sorted name order). */
    public static String fileName(long d) {
        return String.format("doc-%09d.txt", d);
    }

    public CorpusSource source() {
        return CorpusSource.of(dir);
    }

    public Path directory() {
        return dir;
    }

    public long documents() {
        return documents;
    }

    @Override
    public void close() throws IOException {
        if (temporary) deleteTree(dir);
    }

    static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) return;
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) Files.delete(p);
        }
    }
}

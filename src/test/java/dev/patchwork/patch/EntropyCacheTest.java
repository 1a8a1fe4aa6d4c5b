package dev.patchwork.patch;

import dev.patchwork.data.ByteCorpus;
import dev.patchwork.model.ByteLm;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static dev.patchwork.patch.EntropyModelTest.tiny;
import static org.junit.jupiter.api.Assertions.*;

class EntropyCacheTest {
    @TempDir
    Path dir;

    private Path source() {
        return dir.resolve("docs");
    }

    private Path cacheDir() {
        return dir.resolve("run").resolve("cache");
    }

    /** Nine small text files (1 to 60 bytes, so 3 to 62 ids: up to four chunks of 16). */
    private void writeCorpus(long seed) throws IOException {
        SplittableRandom r = new SplittableRandom(seed);
        for (int i = 0; i < 9; i++) {
            int n = i == 0 ? 1 : i == 1 ? 14 : 1 + r.nextInt(60); // 1 byte = 3 ids; 14 bytes = 16 ids, one full chunk
            StringBuilder text = new StringBuilder();
            for (int k = 0; k < n; k++) text.append((char) ('a' + r.nextInt(26)));
            Files.createDirectories(source());
            Files.writeString(source().resolve("f" + i + ".txt"), text);
        }
    }

    private ByteCorpus corpus() {
        return ByteCorpus.open(source(), cacheDir());
    }

    private static EntropyModel model(long seed) {
        return new EntropyModel(ByteLm.initialise(tiny(5, "local_block_causal", seed)), 40);
    }

    /** Every document's cached entropies equal those computed directly from its ids. */
    private static void assertMatchesDirect(EntropyCache cache, ByteCorpus corpus, EntropyModel model) {
        for (long d = 0; d < corpus.documents(); d++) {
            long start = corpus.documentStart(d);
            int[] ids = corpus.ids(start, (int) (corpus.documentStart(d + 1) - start));
            float[] expected = model.entropies(ids);
            float[] cached = cache.document(d);
            for (int t = 0; t < ids.length; t++) {
                assertEquals(expected[t], cached[t], 1e-5, "document " + d + " position " + t);
                assertEquals(cached[t], cache.entropy(start + t));
            }
        }
    }

    private List<Path> cacheFiles() throws IOException {
        try (Stream<Path> s = Files.list(cacheDir())) {
            return s.filter(p -> p.getFileName().toString().startsWith(EntropyCache.PREFIX)).sorted().toList();
        }
    }

    @Test
    void buildsOnceThenReusesWithoutRecomputing() throws IOException {
        writeCorpus(1);
        EntropyModel model = model(3);
        List<EntropyCache.Status> statuses = new ArrayList<>();
        float[] first;
        try (ByteCorpus corpus = corpus()) {
            Path file = EntropyCache.fileFor(corpus, cacheDir());
            assertTrue(file.getFileName().toString().matches("entropies-docs-[0-9a-f]+\\.bin"), file.toString());
            try (EntropyCache cache = EntropyCache.open(corpus, model, file, statuses::add, () -> false)) {
                assertTrue(cache.rebuilt());
                assertEquals("no cache yet", cache.rebuildReason());
                assertEquals(corpus.tokens(), cache.tokens());
                assertEquals(corpus.tokens(), model.idsScored());
                assertEquals(EntropyCache.HEADER_BYTES + 4 * corpus.tokens(), Files.size(file));
                assertMatchesDirect(cache, corpus, model);
                first = cache.entropies(0, (int) corpus.tokens());
            }
            long scored = model.idsScored();
            // progress: tokens never go back, the last report is the finished build
            for (int i = 1; i < statuses.size(); i++)
                assertTrue(statuses.get(i).tokens() >= statuses.get(i - 1).tokens());
            EntropyCache.Status last = statuses.getLast();
            assertTrue(last.finished());
            assertEquals(corpus.documents(), last.documents());
            assertEquals(corpus.documents(), last.totalDocuments());
            assertTrue(last.tokensPerSecond() > 0);

            statuses.clear();
            try (EntropyCache again = EntropyCache.open(corpus, model, file, statuses::add, () -> false)) {
                assertFalse(again.rebuilt());
                assertNull(again.rebuildReason());
                assertEquals(scored, model.idsScored(), "a fresh cache must not be recomputed");
                assertTrue(statuses.isEmpty());
                assertArrayEquals(first, again.entropies(0, (int) corpus.tokens()));
            }
            // the same weights in another EntropyModel instance are the same model
            EntropyModel same = new EntropyModel(model.model());
            try (EntropyCache again = EntropyCache.open(corpus, same, cacheDir())) {
                assertFalse(again.rebuilt());
                assertEquals(0, same.idsScored());
            }
        }
        assertEquals(1, cacheFiles().size());
    }

    @Test
    void windowsSplitDocumentsAtChunkBoundariesOnly() throws IOException {
        writeCorpus(2);
        EntropyModel model = model(3);
        try (ByteCorpus corpus = corpus()) {
            for (long window : new long[]{1, 16, 20, 50, 1 << 20}) {
                Path file = cacheDir().resolve("w" + window + ".bin");
                try (EntropyCache cache = EntropyCache.open(corpus, model, file, EntropyCache.Progress.NONE,
                        () -> false, window)) {
                    assertMatchesDirect(cache, corpus, model);
                }
            }
        }
    }

    @Test
    void aChangedCorpusIsDetectedAndRebuilt() throws IOException {
        writeCorpus(1);
        EntropyModel model = model(3);
        try (ByteCorpus corpus = corpus(); EntropyCache cache = EntropyCache.open(corpus, model, cacheDir())) {
            assertTrue(cache.rebuilt());
        }
        Files.writeString(source().resolve("f3.txt"), "an edited document, longer than before");
        try (ByteCorpus corpus = corpus(); EntropyCache cache = EntropyCache.open(corpus, model, cacheDir())) {
            assertTrue(cache.rebuilt());
            assertTrue(cache.rebuildReason().startsWith("the corpus changed"), cache.rebuildReason());
            assertMatchesDirect(cache, corpus, model);
        }
        assertEquals(1, cacheFiles().size(), "the stale file is replaced");
    }

    @Test
    void aChangedModelIsDetectedAndRebuilt() throws IOException {
        writeCorpus(1);
        try (ByteCorpus corpus = corpus()) {
            EntropyCache.open(corpus, model(3), cacheDir()).close();
            // other weights
            EntropyModel other = model(4);
            try (EntropyCache cache = EntropyCache.open(corpus, other, cacheDir())) {
                assertTrue(cache.rebuildReason().startsWith("the entropy model changed"), cache.rebuildReason());
                assertMatchesDirect(cache, corpus, other);
            }
            // the same weights under another config (no sliding window): also another model
            ByteLm sameWeights = ByteLm.withParameters(tiny(null, "local_block_causal", 4), other.model().parameters());
            try (EntropyCache cache = EntropyCache.open(corpus, new EntropyModel(sameWeights), cacheDir())) {
                assertTrue(cache.rebuildReason().startsWith("the entropy model changed"), cache.rebuildReason());
            }
            // one parameter nudged
            EntropyModel nudged = model(4);
            nudged.model().parameters().set(7, nudged.model().parameters().get(7) + 1e-3f);
            assertFalse(Arrays.equals(EntropyCache.modelHash(other), EntropyCache.modelHash(nudged)));
            assertArrayEquals(EntropyCache.modelHash(other), EntropyCache.modelHash(model(4)));
        }
    }

    /** A cache damaged in {@code how} is rebuilt, saying {@code reason}, and then holds the right values. */
    private void assertRebuiltAfterDamage(String reason, Damage how) throws IOException {
        writeCorpus(5);
        EntropyModel model = model(3);
        try (ByteCorpus corpus = corpus()) {
            Path file = EntropyCache.fileFor(corpus, cacheDir());
            EntropyCache.open(corpus, model, cacheDir()).close();
            how.apply(file);
            try (EntropyCache cache = EntropyCache.open(corpus, model, cacheDir())) {
                assertTrue(cache.rebuilt(), reason);
                assertTrue(cache.rebuildReason().contains(reason), cache.rebuildReason());
                assertEquals(EntropyCache.HEADER_BYTES + 4 * corpus.tokens(), Files.size(file));
                assertMatchesDirect(cache, corpus, model);
            }
            try (EntropyCache cache = EntropyCache.open(corpus, model, cacheDir())) {
                assertFalse(cache.rebuilt(), "the repaired cache is reused");
            }
        }
        for (Path p : cacheFiles()) Files.delete(p);
    }

    @FunctionalInterface
    private interface Damage {
        void apply(Path file) throws IOException;
    }

    private static void putInt(Path file, int offset, int value) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(0, value), offset);
        }
    }

    private static void truncate(Path file, long size) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
            ch.truncate(size);
        }
    }

    @Test
    void damagedFilesAreRebuiltWithAMessageSayingWhy() throws IOException {
        assertRebuiltAfterDamage("truncated (", f -> truncate(f, Files.size(f) - 4));
        assertRebuiltAfterDamage("truncated (10 bytes, shorter than its header)", f -> truncate(f, 10));
        assertRebuiltAfterDamage("truncated (0 bytes", f -> truncate(f, 0));
        assertRebuiltAfterDamage("too long", f -> Files.write(f, new byte[8], StandardOpenOption.APPEND));
        assertRebuiltAfterDamage("not an entropy cache (bad magic)",
                f -> Files.write(f, "not a cache at all, but long enough to hold a header".repeat(4)
                        .getBytes(StandardCharsets.US_ASCII)));
        assertRebuiltAfterDamage("format version 99, this build writes 1", f -> putInt(f, 8, 99));
        assertRebuiltAfterDamage("header is corrupt (header size 64)", f -> putInt(f, 12, 64));
        assertRebuiltAfterDamage("dtype 2, expected 1", f -> putInt(f, 16, 2));
        assertRebuiltAfterDamage("the chunk length changed (cache made with 8, now 16)", f -> putInt(f, 20, 8));
        assertRebuiltAfterDamage("the corpus changed", f -> putInt(f, 40, 12345)); // inside the corpus hash
        assertRebuiltAfterDamage("the entropy model changed", f -> putInt(f, 72, 12345)); // inside the model hash
    }

    @Test
    void aCancelledBuildLeavesNoFileAndKeepsTheOldOne() throws IOException {
        writeCorpus(1);
        EntropyModel old = model(3);
        try (ByteCorpus corpus = corpus()) {
            Path file = EntropyCache.fileFor(corpus, cacheDir());
            int[] batches = {0};
            assertThrows(EntropyCache.Cancelled.class, () -> EntropyCache.open(corpus, old, file,
                    EntropyCache.Progress.NONE, () -> ++batches[0] >= 2));
            assertEquals(2, batches[0], "checked after every forward pass");
            assertTrue(cacheFiles().isEmpty(), "no partial file: " + cacheFiles());

            EntropyCache.open(corpus, old, file, EntropyCache.Progress.NONE, () -> false).close();
            byte[] before = Files.readAllBytes(file);
            var e = assertThrows(EntropyCache.Cancelled.class, () -> EntropyCache.open(corpus, model(4), file,
                    EntropyCache.Progress.NONE, () -> true));
            assertTrue(e.getMessage().contains("was not written"), e.getMessage());
            assertEquals(List.of(file), cacheFiles());
            assertArrayEquals(before, Files.readAllBytes(file), "the previous cache is untouched");
            try (EntropyCache cache = EntropyCache.open(corpus, old, cacheDir())) {
                assertFalse(cache.rebuilt());
            }
        }
    }

    @Test
    void readsAreBoundsChecked() throws IOException {
        writeCorpus(1);
        try (ByteCorpus corpus = corpus(); EntropyCache cache = EntropyCache.open(corpus, model(3), cacheDir())) {
            assertThrows(IndexOutOfBoundsException.class, () -> cache.entropy(-1));
            assertThrows(IndexOutOfBoundsException.class, () -> cache.entropy(corpus.tokens()));
            assertThrows(IndexOutOfBoundsException.class, () -> cache.entropies(corpus.tokens() - 2, 3));
            assertThrows(IndexOutOfBoundsException.class, () -> cache.copy(0, new float[4], 2, 3));
            assertEquals(3, cache.entropies(corpus.tokens() - 3, 3).length);
        }
    }
}

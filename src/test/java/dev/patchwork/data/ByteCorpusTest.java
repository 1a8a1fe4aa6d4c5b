package dev.patchwork.data;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static dev.patchwork.data.TestCorpora.expectedTokens;
import static dev.patchwork.data.TestCorpora.utf8;
import static dev.patchwork.data.TestCorpora.write;
import static dev.patchwork.data.TestCorpora.zip;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ByteCorpusTest {
    @TempDir
    Path dir;

    private Path cache() {
        return dir.resolve("cache");
    }

    @Test
    void idsAreBosBytesPlusFourEosPerDocumentInOrder() throws IOException {
        Path root = dir.resolve("docs");
        SplittableRandom r = new SplittableRandom(3);
        List<byte[]> docs = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            byte[] d = new byte[i == 4 ? 0 : 1 + r.nextInt(40)]; // document 4 is empty and must be dropped
            r.nextBytes(d);
            docs.add(d);
            write(root.resolve(String.format("f%02d.bin", i)), d);
        }
        int[] expected = expectedTokens(docs);
        try (ByteCorpus c = ByteCorpus.open(root, cache())) {
            assertEquals(11, c.documents());
            assertEquals(1, c.emptyDocuments());
            assertEquals(expected.length, c.tokens());
            assertEquals(expected.length - 22, c.bytes());
            for (int p = 0; p < expected.length; p++) assertEquals(expected[p], c.id(p), "token " + p);
            assertArrayEquals(expected, c.ids(0, expected.length));
            // Every window (all starts, many lengths) must agree with the plain stream.
            for (int start = 0; start < expected.length; start++) {
                for (int len : new int[] {0, 1, 2, 3, 7, 41, 100}) {
                    if (start + len > expected.length) continue;
                    int[] got = new int[len + 2];
                    c.copy(start, got, 1, len);
                    for (int i = 0; i < len; i++) assertEquals(expected[start + i], got[1 + i], start + "+" + i);
                }
            }
            long bos = 0;
            for (int d = 0; d < c.documents(); d++) {
                assertEquals(bos, c.documentStart(d));
                assertEquals(ByteTokens.BOS, c.id(bos));
                assertEquals(d, c.documentAt(bos));
                bos += docs.get(d < 4 ? d : d + 1).length + 2;
            }
            assertEquals(c.tokens(), c.documentStart(c.documents()));
            assertThrows(IndexOutOfBoundsException.class, () -> c.id(expected.length));
            assertThrows(IndexOutOfBoundsException.class, () -> c.copy(expected.length - 3, new int[8], 0, 4));
        }
    }

    @Test
    void eachSourceKindPreparesToTheSameStreamAsItsDocuments() throws IOException {
        Path text = write(dir.resolve("one.txt"), "just one document\n");
        Path jsonl = write(dir.resolve("lines.jsonl"), "{\"text\":\"first\"}\n{\"text\":\"second ☃\"}\n");
        Path zipped = write(dir.resolve("z.zip"), zip("b.txt", "bee", "a.txt", "ay"));
        Path gz = write(dir.resolve("g.txt.gz"), TestCorpora.gzip(utf8("gzipped")));
        Path nonUtf8 = write(dir.resolve("latin1.txt"), new byte[] {'c', 'a', 'f', (byte) 0xE9});
        assertStream(text, List.of(utf8("just one document\n")));
        assertStream(jsonl, List.of(utf8("first"), utf8("second ☃")));
        assertStream(zipped, List.of(utf8("ay"), utf8("bee")));
        assertStream(gz, List.of(utf8("gzipped")));
        assertStream(nonUtf8, List.of(new byte[] {'c', 'a', 'f', (byte) 0xE9}));
    }

    private void assertStream(Path source, List<byte[]> docs) {
        try (ByteCorpus c = ByteCorpus.open(source, cache())) {
            assertArrayEquals(expectedTokens(docs), c.ids(0, (int) c.tokens()), source.toString());
            assertEquals(docs.size(), c.documents());
        }
    }

    @Test
    void aFreshCacheIsReusedAndAStaleOneRebuilt() throws IOException {
        Path root = dir.resolve("src");
        Path a = write(root.resolve("a.txt"), "alpha");
        write(root.resolve("b.txt"), "beta");
        CorpusSource source = CorpusSource.of(root);
        CorpusCache.Prepared first = CorpusCache.prepare(source, cache(), CorpusCache.Progress.NONE);
        assertTrue(first.rebuilt());
        assertFalse(CorpusCache.prepare(source, cache(), CorpusCache.Progress.NONE).rebuilt());

        write(a, "alpha, longer now"); // content and size change
        assertFalse(CorpusCache.isFresh(first.file(), source));
        try (ByteCorpus c = ByteCorpus.open(source, cache(), CorpusCache.Progress.NONE)) {
            assertArrayEquals(expectedTokens(List.of(utf8("alpha, longer now"), utf8("beta"))),
                    c.ids(0, (int) c.tokens()));
        }

        // Same size, new content: only the modification time tells; set it explicitly (clocks can be coarse).
        FileTime before = Files.getLastModifiedTime(a);
        write(a, "ALPHA, LONGER NOW");
        Files.setLastModifiedTime(a, FileTime.fromMillis(before.toMillis() + 5000));
        CorpusCache.Prepared again = CorpusCache.prepare(source, cache(), CorpusCache.Progress.NONE);
        assertTrue(again.rebuilt());
        try (ByteCorpus c = ByteCorpus.map(again.file())) {
            assertEquals('A' + 4, c.id(1));
        }

        write(root.resolve("c.txt"), "gamma"); // a new file
        assertTrue(CorpusCache.prepare(source, cache(), CorpusCache.Progress.NONE).rebuilt());
        try (ByteCorpus c = ByteCorpus.open(root, cache())) {
            assertEquals(3, c.documents());
        }
        try (Stream<Path> files = Files.list(cache())) {
            assertEquals(List.of(first.file()), files.toList(), "one cache file, no temporary leftovers");
        }
    }

    @Test
    void aDamagedCacheIsRebuiltAndOtherOptionsUseAnotherFile() throws IOException {
        Path f = write(dir.resolve("t.txt"), "some text");
        CorpusSource source = CorpusSource.of(f);
        Path prepared = CorpusCache.prepare(source, cache(), CorpusCache.Progress.NONE).file();
        try (FileChannel ch = FileChannel.open(prepared, StandardOpenOption.WRITE)) {
            ch.truncate(ch.size() - 3);
        }
        assertFalse(CorpusCache.isFresh(prepared, source));
        DataException e = assertThrows(DataException.class, () -> ByteCorpus.map(prepared));
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
        assertTrue(CorpusCache.prepare(source, cache(), CorpusCache.Progress.NONE).rebuilt());
        try (ByteCorpus c = ByteCorpus.map(prepared)) {
            assertEquals(11, c.tokens());
        }
        Path other = CorpusCache.fileFor(CorpusSource.of(f, CorpusOptions.including(".txt")), cache());
        assertFalse(other.equals(prepared));
    }

    @Test
    void aCacheInsideTheCorpusDirectoryIsNotReadAsADocument() throws IOException {
        Path root = dir.resolve("self");
        write(root.resolve("doc.txt"), "document");
        assertTrue(CorpusCache.prepare(CorpusSource.of(root), root, CorpusCache.Progress.NONE).rebuilt());
        assertFalse(CorpusCache.prepare(CorpusSource.of(root), root, CorpusCache.Progress.NONE).rebuilt());
        try (ByteCorpus c = ByteCorpus.open(root, root)) {
            assertEquals(1, c.documents());
        }
    }

    @Test
    void emptyCorporaAreClearErrors() throws IOException {
        Path emptyDir = Files.createDirectories(dir.resolve("empty"));
        DataException e = assertThrows(DataException.class, () -> ByteCorpus.open(emptyDir, cache()));
        assertTrue(e.getMessage().startsWith("corpus " + emptyDir.toAbsolutePath() + " is empty: it has no documents"),
                e.getMessage());
        Path blanks = dir.resolve("blanks");
        write(blanks.resolve("a.txt"), "");
        write(blanks.resolve("b.jsonl"), "{\"text\":\"\"}\n");
        e = assertThrows(DataException.class, () -> ByteCorpus.open(blanks, cache()));
        assertTrue(e.getMessage().contains("is empty: all 2 of its documents are empty"), e.getMessage());
        Path missing = dir.resolve("missing");
        e = assertThrows(DataException.class, () -> ByteCorpus.open(missing, cache()));
        assertTrue(e.getMessage().contains("does not exist"), e.getMessage());
    }

    @Test
    void mapRejectsFilesThatAreNotPreparedCorpora() throws IOException {
        Path junk = write(dir.resolve("junk.pwcorpus"), "this is not a corpus file, but it is long enough to hold "
                + "a header of ninety-two bytes and then some more text");
        DataException e = assertThrows(DataException.class, () -> ByteCorpus.map(junk));
        assertTrue(e.getMessage().contains("not a prepared corpus file"), e.getMessage());
    }

    @Test
    void progressIsReportedWhenFinished() throws IOException {
        Path f = write(dir.resolve("p.jsonl"), "{\"text\":\"ab\"}\n{\"text\":\"cde\"}\n");
        List<long[]> calls = new ArrayList<>();
        try (ByteCorpus c = ByteCorpus.open(CorpusSource.of(f), cache(),
                (docs, bytes, finished) -> calls.add(new long[] {docs, bytes, finished ? 1 : 0}))) {
            assertEquals(9, c.tokens());
        }
        assertEquals(1, calls.size());
        assertArrayEquals(new long[] {2, 5, 1}, calls.get(0));
    }

    /** A corpus file larger than 2 GB, written sparse so the test costs no disk or time. */
    @Test
    void filesBeyondTwoGigabytesAreAddressable() throws IOException {
        long firstDoc = (5L << 29) + 3; // 2.5 GB + 3 bytes
        long secondDoc = 10;
        String description = "sparse test corpus";
        long bytesOffset = CorpusFileFormat.Header.sizeFor(description);
        long bytes = firstDoc + secondDoc;
        CorpusFileFormat.Header h = new CorpusFileFormat.Header(description, new byte[32], 2, 0, bytes, bytesOffset,
                CorpusFileFormat.Header.indexOffsetFor(bytesOffset, bytes));
        Path file = dir.resolve("big.pwcorpus");
        long marked = (1L << 31) + 17; // a byte of document 0 beyond 2 GB
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE,
                StandardOpenOption.SPARSE)) {
            ch.write(h.encode(), 0);
            ch.write(ByteBuffer.wrap(new byte[] {'Z'}), bytesOffset + marked);
            ch.write(ByteBuffer.wrap(utf8("second doc")), bytesOffset + firstDoc);
            ByteBuffer index = ByteBuffer.allocate(24).order(ByteOrder.LITTLE_ENDIAN);
            index.putLong(0).putLong(firstDoc + 2).putLong(bytes + 4).flip();
            ch.write(index, h.indexOffset());
        }
        try (ByteCorpus c = ByteCorpus.map(file)) {
            assertEquals(bytes + 4, c.tokens());
            assertEquals('Z' + 4, c.id(marked + 1)); // +1 for document 0's BOS
            assertEquals(ByteTokens.OFFSET, c.id(marked + 2)); // a zero byte
            long eos = firstDoc + 1;
            assertEquals(0, c.documentAt(eos));
            assertEquals(1, c.documentAt(eos + 1));
            int[] across = c.ids(eos - 1, 5);
            assertArrayEquals(new int[] {4, ByteTokens.EOS, ByteTokens.BOS, 's' + 4, 'e' + 4}, across);
            assertArrayEquals(ByteTokens.encode("second doc", true, true), c.ids(eos + 1, 12));
        }
    }
}

package dev.patchwork.data;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static dev.patchwork.data.TestCorpora.gzip;
import static dev.patchwork.data.TestCorpora.read;
import static dev.patchwork.data.TestCorpora.texts;
import static dev.patchwork.data.TestCorpora.utf8;
import static dev.patchwork.data.TestCorpora.write;
import static dev.patchwork.data.TestCorpora.zip;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CorpusSourceTest {
    @TempDir
    Path dir;

    @Test
    void aPlainFileIsOneDocumentOfItsRawBytesEvenIfNotUtf8() throws IOException {
        byte[] bytes = {'o', 'k', (byte) 0xFF, (byte) 0xC3, 0, '\n', (byte) 0x80};
        Path f = write(dir.resolve("binary.dat"), bytes);
        List<TestCorpora.Doc> docs = read(CorpusSource.of(f));
        assertEquals(1, docs.size());
        assertEquals("binary.dat", docs.get(0).name());
        assertArrayEquals(bytes, docs.get(0).bytes());
    }

    @Test
    void aDirectoryIsEveryVisibleFileInSortedPathOrder() throws IOException {
        Path root = dir.resolve("corpus");
        write(root.resolve("b.txt"), "B");
        write(root.resolve("a/z.txt"), "AZ");
        write(root.resolve("a/c.txt"), "AC");
        write(root.resolve(".hidden"), "hidden file");
        write(root.resolve(".git/config"), "hidden directory");
        write(root.resolve("c/d/e.txt"), "CDE");
        List<TestCorpora.Doc> docs = read(CorpusSource.of(root));
        assertEquals(List.of("a/c.txt", "a/z.txt", "b.txt", "c/d/e.txt"),
                docs.stream().map(TestCorpora.Doc::name).toList());
        assertEquals(List.of("AC", "AZ", "B", "CDE"), docs.stream().map(TestCorpora.Doc::text).toList());
    }

    @Test
    void zipEntriesAreDocumentsSortedByNameSkippingFoldersAndHiddenEntries() throws IOException {
        Path z = write(dir.resolve("src.zip"), zip("java.base/", "", "java.base/B.java", "class B {}",
                "java.base/A.java", "class A {}", "README", "readme", "__x/.DS_Store", "junk", "./dot/C.txt", "c"));
        List<TestCorpora.Doc> docs = read(CorpusSource.of(z));
        assertEquals(List.of("src.zip!/./dot/C.txt", "src.zip!/README", "src.zip!/java.base/A.java",
                        "src.zip!/java.base/B.java"),
                docs.stream().map(TestCorpora.Doc::name).toList());
        assertEquals(List.of("class A {}", "class B {}"),
                texts(CorpusSource.of(z, CorpusOptions.including(".java"))));
    }

    @Test
    void gzIsDecompressedAndJsonlGzIsReadAsJsonl() throws IOException {
        Path plain = write(dir.resolve("book.txt.gz"), gzip(utf8("a whole book")));
        assertEquals(List.of("a whole book"), texts(CorpusSource.of(plain)));
        Path jsonl = write(dir.resolve("data.jsonl.gz"), gzip(utf8("{\"text\":\"one\"}\n{\"text\":\"two\"}\n")));
        List<TestCorpora.Doc> docs = read(CorpusSource.of(jsonl));
        assertEquals(List.of("one", "two"), docs.stream().map(TestCorpora.Doc::text).toList());
        assertEquals("data.jsonl:2", docs.get(1).name());
    }

    @Test
    void jsonlLinesAreDocumentsOfTheirTextField() throws IOException {
        Path f = write(dir.resolve("d.jsonl"), "\uFEFF{\"text\": \"héllo\\nworld\", \"id\": 1}\n\n"
                + "{\"meta\": {\"x\": [1,2]}, \"text\": \"\\u2603 snow\"}\r\n   \n{\"text\": \"\"}\n");
        assertEquals(List.of("héllo\nworld", "☃ snow", ""), texts(CorpusSource.of(f)));
    }

    @Test
    void containersInsideADirectoryAreReadByExtension() throws IOException {
        Path root = dir.resolve("mixed");
        write(root.resolve("1.txt"), "plain");
        write(root.resolve("2.jsonl"), "{\"text\":\"j1\"}\n{\"text\":\"j2\"}");
        write(root.resolve("3.zip"), zip("y.txt", "zy", "x.txt", "zx"));
        write(root.resolve("4.txt.gz"), gzip(utf8("gz")));
        write(root.resolve("5.zip.gz"), gzip(zip("only.txt", "nested zip")));
        assertEquals(List.of("plain", "j1", "j2", "zx", "zy", "gz", "nested zip"), texts(CorpusSource.of(root)));
    }

    @Test
    void theIncludeFilterAppliesToRawDocumentsNotContainers() throws IOException {
        Path root = dir.resolve("filtered");
        write(root.resolve("A.java"), "A");
        write(root.resolve("notes.md"), "notes");
        write(root.resolve("B.JAVA.gz"), gzip(utf8("B")));
        write(root.resolve("lib.zip"), zip("C.java", "C", "C.class", "bytecode"));
        assertEquals(List.of("A", "B", "C"), texts(CorpusSource.of(root, CorpusOptions.including(".java"))));
    }

    @Test
    void aMissingPathIsAClearError() {
        Path missing = dir.resolve("nope.txt");
        DataException e = assertThrows(DataException.class, () -> read(CorpusSource.of(missing)));
        assertTrue(e.getMessage().contains("does not exist") && e.getMessage().contains("nope.txt"), e.getMessage());
    }

    @Test
    void malformedJsonlNamesTheFileAndLine() throws IOException {
        assertJsonlError("{\"text\":\"ok\"}\n{\"text\": \"unterminated\n", "bad.jsonl line 2: not valid JSON");
        assertJsonlError("{\"text\":\"ok\"}\n\n{\"title\":\"x\"}\n", "bad.jsonl line 3: has no \"text\" field");
        assertJsonlError("{\"text\": 42}\n", "bad.jsonl line 1: has a non-string \"text\" field");
        assertJsonlError("[\"text\"]\n", "bad.jsonl line 1: is a JSON array, not an object");
        assertJsonlError("{\"text\":\"a\"} {\"text\":\"b\"}\n", "bad.jsonl line 1: not valid JSON");
    }

    private void assertJsonlError(String content, String expected) throws IOException {
        Path f = write(dir.resolve("bad.jsonl"), content);
        DataException e = assertThrows(DataException.class, () -> read(CorpusSource.of(f)));
        assertTrue(e.getMessage().startsWith(expected), e.getMessage());
        assertTrue(e.getMessage().contains("{\"text\": \"...\"}"), e.getMessage());
    }

    @Test
    void corruptArchivesAndTarballsAreClearErrors() throws IOException {
        Path gz = write(dir.resolve("broken.txt.gz"), utf8("not gzip at all"));
        DataException e = assertThrows(DataException.class, () -> read(CorpusSource.of(gz)));
        assertTrue(e.getMessage().contains("broken.txt.gz") && e.getMessage().contains("not a valid"), e.getMessage());
        Path tar = write(dir.resolve("data.tar.gz"), gzip(utf8("tar bytes")));
        e = assertThrows(DataException.class, () -> read(CorpusSource.of(tar)));
        assertTrue(e.getMessage().contains("tar archive"), e.getMessage());
    }

    @Test
    void fingerprintChangesWithFilesNotWithTime() throws IOException {
        Path root = dir.resolve("fp");
        Path a = write(root.resolve("a.txt"), "aaa");
        CorpusSource s = CorpusSource.of(root);
        byte[] before = s.fingerprint();
        assertArrayEquals(before, s.fingerprint());
        write(root.resolve("b.txt"), "new file");
        byte[] added = s.fingerprint();
        assertTrue(!java.util.Arrays.equals(before, added), "adding a file must change the fingerprint");
        Files.setLastModifiedTime(a, java.nio.file.attribute.FileTime.fromMillis(1_000_000));
        assertTrue(!java.util.Arrays.equals(added, s.fingerprint()), "touching a file must change the fingerprint");
        assertTrue(!java.util.Arrays.equals(s.fingerprint(),
                CorpusSource.of(root, CorpusOptions.including(".txt")).fingerprint()), "options are part of it");
    }
}

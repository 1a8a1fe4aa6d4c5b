package dev.patchwork.data;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.GZIPOutputStream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/** Builders of small corpora on disk and the token stream they must produce. */
final class TestCorpora {
    private TestCorpora() {}

    /** A document as read back by {@link CorpusSource#forEachDocument}. */
    record Doc(String name, byte[] bytes) {
        String text() {
            return new String(bytes, StandardCharsets.UTF_8);
        }
    }

    static List<Doc> read(CorpusSource source) throws IOException {
        List<Doc> docs = new ArrayList<>();
        source.forEachDocument((name, in) -> docs.add(new Doc(name, in.readAllBytes())));
        return docs;
    }

    static List<String> texts(CorpusSource source) throws IOException {
        return read(source).stream().map(Doc::text).toList();
    }

    /** BOS + bytes+4 + EOS of each non-empty document, concatenated. */
    static int[] expectedTokens(List<byte[]> documents) {
        List<Integer> ids = new ArrayList<>();
        for (byte[] d : documents) {
            if (d.length == 0) continue;
            for (int id : ByteTokens.encode(d, true, true)) ids.add(id);
        }
        return ids.stream().mapToInt(Integer::intValue).toArray();
    }

    static Path write(Path file, String text) throws IOException {
        return write(file, text.getBytes(StandardCharsets.UTF_8));
    }

    static Path write(Path file, byte[] bytes) throws IOException {
        Files.createDirectories(file.getParent());
        return Files.write(file, bytes);
    }

    /** A zip whose entries are written in the given (not necessarily sorted) order; names ending in / are folders. */
    static byte[] zip(String... namesAndTexts) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ZipOutputStream z = new ZipOutputStream(bytes)) {
            for (int i = 0; i < namesAndTexts.length; i += 2) {
                z.putNextEntry(new ZipEntry(namesAndTexts[i]));
                z.write(namesAndTexts[i + 1].getBytes(StandardCharsets.UTF_8));
                z.closeEntry();
            }
        }
        return bytes.toByteArray();
    }

    static byte[] gzip(byte[] content) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (OutputStream z = new GZIPOutputStream(bytes)) {
            z.write(content);
        }
        return bytes.toByteArray();
    }

    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }
}

package dev.patchwork.data;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;

/**
 * Converts a {@link CorpusSource} once into a prepared {@code .pwcorpus} file in a cache directory (see
 * {@link CorpusFileFormat}) and reuses it while the source is unchanged. The header records the source's description
 * and fingerprint (sizes and modification times of its files); a mismatch, another format version or a damaged file
 * means a rebuild, never silent reuse. Files are written to a temporary name and renamed, so a crash or a concurrent
 * reader never sees half a file. Memory use is a few buffers, whatever the corpus size.
 */
public final class CorpusCache {
    /** Told how preparation advances: every {@link #REPORT_EVERY_BYTES} bytes or so, then once with {@code finished}. */
    @FunctionalInterface
    public interface Progress {
        Progress NONE = (documents, bytes, finished) -> {};

        void update(long documents, long bytes, boolean finished);
    }

    /** A prepared file and whether this call (re)built it. */
    public record Prepared(Path file, boolean rebuilt) {}

    public static final long REPORT_EVERY_BYTES = 64L << 20;
    private static final int BUFFER = 1 << 20;

    private CorpusCache() {}

    /** The prepared file for {@code source} in {@code cacheDir}: its name, plus a hash of its path and options. */
    public static Path fileFor(CorpusSource source, Path cacheDir) {
        Path name = source.path().getFileName();
        String base = name == null ? "root" : name.toString().replaceAll("[^A-Za-z0-9._-]", "_");
        String hash = HexFormat.of().formatHex(sha256(source.description().getBytes(StandardCharsets.UTF_8)), 0, 8);
        return cacheDir.resolve(base + "-" + hash + CorpusFileFormat.EXTENSION);
    }

    /** Whether {@code file} is a complete prepared file of {@code source} in its current state. */
    public static boolean isFresh(Path file, CorpusSource source) {
        return isFresh(file, source.description(), source.fingerprint());
    }

    /**
     * The prepared file of {@code source} in {@code cacheDir}, built (or rebuilt, if stale) when needed.
     *
     * @throws DataException        if the source is missing or holds malformed data
     * @throws UncheckedIOException if reading the source or writing the cache fails
     */
    public static Prepared prepare(CorpusSource source, Path cacheDir, Progress progress) {
        // The fingerprint is taken before reading: if the source changes meanwhile, the next run sees a mismatch.
        byte[] fingerprint = source.fingerprint();
        Path file = fileFor(source, cacheDir);
        if (isFresh(file, source.description(), fingerprint)) return new Prepared(file, false);
        Path tmp = null, index = null;
        try {
            Files.createDirectories(cacheDir);
            String prefix = "." + file.getFileName();
            tmp = Files.createTempFile(cacheDir, prefix, ".tmp");
            index = Files.createTempFile(cacheDir, prefix, ".index.tmp");
            try (FileChannel out = FileChannel.open(tmp, StandardOpenOption.WRITE);
                 FileChannel indexOut = FileChannel.open(index, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                Writer w = new Writer(out, indexOut, CorpusFileFormat.Header.empty(source.description(), fingerprint),
                        progress);
                source.forEachDocument(w::document);
                w.finish();
                out.force(true);
            }
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            tmp = null;
            return new Prepared(file, true);
        } catch (IOException e) {
            throw new UncheckedIOException("preparing corpus " + source + " into " + cacheDir + ": " + e, e);
        } finally {
            deleteQuietly(tmp);
            deleteQuietly(index);
        }
    }

    private static boolean isFresh(Path file, String description, byte[] fingerprint) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            CorpusFileFormat.Header h = CorpusFileFormat.Header.read(ch, file);
            return h.description().equals(description) && Arrays.equals(h.fingerprint(), fingerprint);
        } catch (NoSuchFileException e) {
            return false;
        } catch (IOException | DataException e) {
            return false; // damaged or from another version: rebuilt over
        }
    }

    /** Streams documents into the bytes region and their token starts into a side file, then assembles the file. */
    private static final class Writer {
        private final FileChannel out;
        private final FileChannel indexOut;
        private final CorpusFileFormat.Header start;
        private final Progress progress;
        private final ByteBuffer bytes = ByteBuffer.allocate(BUFFER);
        private final ByteBuffer starts = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
        private long written;
        private long documents;
        private long empty;
        private long reported;

        Writer(FileChannel out, FileChannel indexOut, CorpusFileFormat.Header start, Progress progress)
                throws IOException {
            this.out = out;
            this.indexOut = indexOut;
            this.start = start;
            this.progress = progress;
            out.write(start.encode(), 0); // placeholder, rewritten with the counts at the end
            out.position(start.bytesOffset());
        }

        void document(String name, InputStream in) throws IOException {
            long first = written;
            for (int n; (n = in.read(bytes.array(), bytes.position(), bytes.remaining())) >= 0; ) {
                bytes.position(bytes.position() + n);
                written += n;
                if (!bytes.hasRemaining()) flushBytes();
            }
            if (written == first) {
                empty++; // BOS EOS alone teaches nothing; an all-empty corpus is reported as empty
                return;
            }
            putStart(first + 2 * documents);
            documents++;
        }

        void finish() throws IOException {
            flushBytes();
            long tokens = written + 2 * documents;
            putStart(tokens);
            writeAll(indexOut, starts.flip());
            CorpusFileFormat.Header h = new CorpusFileFormat.Header(start.description(), start.fingerprint(),
                    documents, empty, written, start.bytesOffset(),
                    CorpusFileFormat.Header.indexOffsetFor(start.bytesOffset(), written));
            long pos = h.indexOffset();
            for (long done = 0, size = indexOut.size(); done < size; ) {
                done += indexOut.transferTo(done, size - done, out.position(pos + done));
            }
            out.write(h.encode(), 0);
            progress.update(documents, written, true);
        }

        private void flushBytes() throws IOException {
            writeAll(out, bytes.flip());
            bytes.clear();
            if (written - reported >= REPORT_EVERY_BYTES) {
                reported = written;
                progress.update(documents, written, false);
            }
        }

        private void putStart(long tokenPosition) throws IOException {
            if (starts.remaining() < Long.BYTES) {
                writeAll(indexOut, starts.flip());
                starts.clear();
            }
            starts.putLong(tokenPosition);
        }

        private static void writeAll(FileChannel ch, ByteBuffer b) throws IOException {
            while (b.hasRemaining()) ch.write(b);
        }
    }

    private static void deleteQuietly(Path p) {
        if (p == null) return;
        try {
            Files.deleteIfExists(p);
        } catch (IOException ignored) {
            // a leftover hidden temp file is harmless: hidden files are skipped and never mistaken for a cache
        }
    }

    static byte[] sha256(byte[] data) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(data);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK lacks SHA-256", e);
        }
    }
}

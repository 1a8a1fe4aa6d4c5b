package dev.patchwork.data;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Objects;

/**
 * A prepared corpus, memory-mapped: the token stream {@code BOS, bytes+4, EOS} of every document, back to back.
 *
 * <p>Nothing is copied to the Java heap; the operating system pages the file in and out, so a corpus larger than RAM
 * works, and a {@link MemorySegment} addresses files beyond 2 GB (one {@code MappedByteBuffer} could not). Reads are
 * thread-safe. Close it to unmap; any later read throws {@link IllegalStateException}.
 */
public final class ByteCorpus implements AutoCloseable {
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Path file;
    private final String description;
    private final Arena arena;
    private final MemorySegment data;
    private final long documents;
    private final long emptyDocuments;
    private final long bytes;
    private final long tokens;
    private final long bytesOffset;
    private final long indexOffset;

    private ByteCorpus(Path file, CorpusFileFormat.Header h, Arena arena, MemorySegment data) {
        this.file = file;
        this.description = h.description();
        this.arena = arena;
        this.data = data;
        this.documents = h.documents();
        this.emptyDocuments = h.emptyDocuments();
        this.bytes = h.bytes();
        this.tokens = h.tokens();
        this.bytesOffset = h.bytesOffset();
        this.indexOffset = h.indexOffset();
    }

    /** Every document under {@code source}, prepared in {@code cacheDir} (reused if fresh) and mapped. */
    public static ByteCorpus open(Path source, Path cacheDir) {
        return open(CorpusSource.of(source), cacheDir, CorpusCache.Progress.NONE);
    }

    /**
     * Prepares {@code source} in {@code cacheDir} if its cache is missing or stale, then maps it.
     *
     * @throws DataException if the source is missing, malformed or has no non-empty document
     */
    public static ByteCorpus open(CorpusSource source, Path cacheDir, CorpusCache.Progress progress) {
        return map(CorpusCache.prepare(source, cacheDir, progress).file());
    }

    /**
     * Maps an already prepared file (no staleness check: there is no source to compare with).
     *
     * @throws DataException if it is not a complete prepared file, or the corpus is empty
     */
    public static ByteCorpus map(Path preparedFile) {
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(preparedFile, StandardOpenOption.READ)) {
            CorpusFileFormat.Header h = CorpusFileFormat.Header.read(ch, preparedFile);
            if (h.documents() == 0)
                throw new DataException("corpus " + h.description() + " is empty: " + (h.emptyDocuments() == 0
                        ? "it has no documents" : "all " + h.emptyDocuments() + " of its documents are empty")
                        + "; check the path and the include filter");
            MemorySegment data = ch.map(FileChannel.MapMode.READ_ONLY, 0, h.fileSize(), arena);
            return new ByteCorpus(preparedFile, h, arena, data);
        } catch (IOException e) {
            arena.close();
            throw new UncheckedIOException("mapping prepared corpus " + preparedFile + ": " + e, e);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /** The prepared file. */
    public Path file() {
        return file;
    }

    /** Path and options of the source, for messages. */
    public String description() {
        return description;
    }

    /** Number of (non-empty) documents. */
    public long documents() {
        return documents;
    }

    /** Number of empty source documents that were dropped. */
    public long emptyDocuments() {
        return emptyDocuments;
    }

    /** Number of content bytes (tokens minus the BOS and EOS of each document). */
    public long bytes() {
        return bytes;
    }

    /** Length of the token stream: bytes + 2 * documents. */
    public long tokens() {
        return tokens;
    }

    /** Token position of document {@code d}'s BOS; {@code documentStart(documents())} is {@link #tokens()}. */
    public long documentStart(long d) {
        if (d < 0 || d > documents)
            throw new IndexOutOfBoundsException("document " + d + " outside [0, " + documents + "]");
        return start(d);
    }

    /** The document holding token {@code position}. */
    public long documentAt(long position) {
        checkPosition(position);
        // Largest d with start(d) <= position: starts are strictly increasing (every document has >= 3 tokens).
        long lo = 0, hi = documents - 1;
        while (lo < hi) {
            long mid = (lo + hi + 1) >>> 1;
            if (start(mid) <= position) lo = mid;
            else hi = mid - 1;
        }
        return lo;
    }

    /** The token id at {@code position} in {@code [0, tokens())}. */
    public int id(long position) {
        long d = documentAt(position);
        if (position == start(d)) return ByteTokens.BOS;
        if (position == start(d + 1) - 1) return ByteTokens.EOS;
        return byteId(position, d);
    }

    /** Copies the ids at {@code [position, position + length)} into {@code dst[offset ...]}. */
    public void copy(long position, int[] dst, int offset, int length) {
        if (length < 0 || position < 0 || position > tokens - length)
            throw new IndexOutOfBoundsException("tokens [" + position + ", " + position + "+" + length
                    + ") outside the corpus [0, " + tokens + ")");
        Objects.checkFromIndexSize(offset, length, dst.length);
        if (length == 0) return;
        long d = documentAt(position);
        long end = position + length;
        long next = start(d + 1); // one past this document's EOS
        int o = offset;
        long p = position;
        while (p < end) {
            if (p == next) { // move to the following document
                d++;
                next = start(d + 1);
            }
            if (p == start(d)) {
                dst[o++] = ByteTokens.BOS;
                p++;
                continue;
            }
            long stop = Math.min(end, next - 1); // the content bytes of d run up to its EOS at next - 1
            long at = bytesOffset + p - 2 * d - 1;
            for (; p < stop; p++) dst[o++] = (data.get(ValueLayout.JAVA_BYTE, at++) & 0xFF) + ByteTokens.OFFSET;
            if (p == next - 1 && p < end) {
                dst[o++] = ByteTokens.EOS;
                p++;
            }
        }
    }

    /** The ids at {@code [position, position + length)} in a new array (for tests and small reads). */
    public int[] ids(long position, int length) {
        int[] out = new int[length];
        copy(position, out, 0, length);
        return out;
    }

    /** The deterministic split with the last {@code evalFraction} of the token stream held out. */
    public CorpusSplit split(double evalFraction) {
        return CorpusSplit.of(tokens, evalFraction);
    }

    /** Unmaps the file. Not to be called while other threads still read. */
    @Override
    public void close() {
        arena.close();
    }

    @Override
    public String toString() {
        return "corpus " + description + ": " + documents + " documents, " + tokens + " tokens";
    }

    private long start(long d) {
        return data.get(LONG, indexOffset + 8 * d);
    }

    /** Id of the content byte at token {@code position} of document {@code d} (neither its BOS nor its EOS). */
    private int byteId(long position, long d) {
        return (data.get(ValueLayout.JAVA_BYTE, bytesOffset + position - 2 * d - 1) & 0xFF) + ByteTokens.OFFSET;
    }

    private void checkPosition(long position) {
        if (position < 0 || position >= tokens)
            throw new IndexOutOfBoundsException("token " + position + " outside the corpus [0, " + tokens + ")");
    }
}

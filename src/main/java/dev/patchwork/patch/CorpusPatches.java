package dev.patchwork.patch;

import dev.patchwork.data.ByteCorpus;
import dev.patchwork.io.AtomicFiles;
import dev.patchwork.util.PatchworkException;

import dev.patchwork.io.MappedFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.function.BooleanSupplier;

/**
 * The patches of a whole corpus, as BLT training reads them: every document ({@code BOS + bytes + EOS}) patched on its
 * own as the reference's data preparation does ({@code include_next_token=false}, so a document's lengths sum to its
 * length and no patch crosses a document boundary), the documents' patches back to back. Stored as the token position
 * where each patch starts, so any run of patches is found in O(1).
 *
 * <p>Kept in a file beside the run ({@code RUN/cache/patches-<corpus>.bin}), memory-mapped for reading: 8 bytes per
 * patch, little-endian:
 * <pre>
 *   header  128 bytes: magic "PWPATCHS", format version, header size, patches, tokens, SHA-256 key, zero padding
 *   starts  patches + 1 longs: the first position of every patch, then the corpus' token count
 * </pre>
 * The key hashes the prepared corpus' header, the entropies' header (corpus and entropy model hashes) when the rule
 * reads entropies, and the patcher with all its settings; a file with another key (or damaged, or of another format
 * version) is rebuilt, and written under a temporary name first, so a crash never leaves a partial file.
 */
public final class CorpusPatches implements AutoCloseable {
    public static final String PREFIX = "patches-";
    public static final String EXTENSION = ".bin";
    static final int VERSION = 1;
    static final int HEADER_BYTES = 128;
    private static final byte[] MAGIC = "PWPATCHS".getBytes(StandardCharsets.US_ASCII);
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final int WRITE_BUFFER_LONGS = 1 << 13;

    /** Told after every document of a build with the documents done and the total. */
    @FunctionalInterface
    public interface Progress {
        Progress NONE = (done, total) -> {};

        void update(long documentsDone, long documents);
    }

    private final Path file;
    private final String rebuildReason;
    private final long count, tokens;
    private final Arena arena;
    private final MemorySegment data;

    private CorpusPatches(Path file, String rebuildReason, long count, long tokens, Arena arena, MemorySegment data) {
        this.file = file;
        this.rebuildReason = rebuildReason;
        this.count = count;
        this.tokens = tokens;
        this.arena = arena;
        this.data = data;
    }

    /** Where the patches of {@code corpus} go in {@code cacheDir}: named after its prepared file. */
    public static Path fileFor(ByteCorpus corpus, Path cacheDir) {
        String name = corpus.file().getFileName().toString();
        int dot = name.lastIndexOf('.');
        return cacheDir.resolve(PREFIX + (dot > 0 ? name.substring(0, dot) : name) + EXTENSION);
    }

    /**
     * The patches of {@code corpus} under {@code patcher}: {@code file} if it holds exactly those, else computed
     * (replacing it).
     *
     * @param entropies the corpus' entropies; required when the patcher reads entropies, else ignored
     * @param stop      checked after every document; when it returns true the build stops with a
     *                  {@link PatchworkException} and no file is written
     */
    public static CorpusPatches open(ByteCorpus corpus, Patcher patcher, EntropyCache entropies, Path file,
                                     Progress progress, BooleanSupplier stop) {
        if (patcher.usesEntropies() && entropies == null)
            throw new IllegalArgumentException(patcher.describe() + " patching needs the corpus' entropies");
        if (patcher.usesEntropies() && entropies.tokens() != corpus.tokens())
            throw new IllegalArgumentException("the entropies cover " + entropies.tokens() + " tokens but the corpus has " + corpus.tokens());
        byte[] key = key(corpus, patcher, patcher.usesEntropies() ? entropies : null);
        String reason = staleness(file, key, corpus.tokens());
        if (reason != null) {
            try {
                AtomicFiles.writeChannel(file, ch -> build(ch, key, corpus, patcher, entropies, progress, stop, file));
            } catch (IOException e) {
                throw new UncheckedIOException("writing the patches file " + file + ": " + e, e);
            }
            String after = staleness(file, key, corpus.tokens());
            if (after != null) throw new IllegalStateException("the patches file just written is invalid: " + after);
        }
        Arena arena = Arena.ofShared();
        MemorySegment data = MappedFiles.readOnly(file, arena, "the patches file");
        return new CorpusPatches(file, reason, data.get(LONG, 16), corpus.tokens(), arena, data);
    }

    /** The file. */
    public Path file() {
        return file;
    }

    /** Whether this open computed the patches (false: an existing file matched and was reused). */
    public boolean rebuilt() {
        return rebuildReason != null;
    }

    /** Why the patches were computed, or null if the file was reused. */
    public String rebuildReason() {
        return rebuildReason;
    }

    /** Number of patches. */
    public long count() {
        return count;
    }

    /** Token position where patch {@code p} starts; {@code start(count())} is the corpus' token count. */
    public long start(long p) {
        if (p < 0 || p > count) throw new IndexOutOfBoundsException("patch " + p + " outside [0, " + count + "]");
        return data.get(LONG, HEADER_BYTES + 8 * p);
    }

    /** Length of patch {@code p}. */
    public int length(long p) {
        return (int) (start(p + 1) - start(p));
    }

    /** The first patch that starts at or after token {@code position} ({@link #count()} if none does). */
    public long firstAtOrAfter(long position) {
        long lo = 0, hi = count; // start(hi) = tokens >= position unless position > tokens
        if (position > tokens) return count;
        while (lo < hi) {
            long mid = (lo + hi) >>> 1;
            if (start(mid) >= position) hi = mid;
            else lo = mid + 1;
        }
        return lo;
    }

    /** Tokens per patch over the whole corpus. */
    public double meanPatchSize() {
        return count == 0 ? 0 : (double) tokens / count;
    }

    /** Unmaps the file. */
    @Override
    public void close() {
        arena.close();
    }

    // ---------------------------------------------------------------------------------------------------------------

    private static void build(FileChannel ch, byte[] key, ByteCorpus corpus, Patcher patcher, EntropyCache entropies,
                              Progress progress, BooleanSupplier stop, Path file) throws IOException {
        ch.position(HEADER_BYTES); // the header, which holds the count, is written at the end
        ByteBuffer buf = ByteBuffer.allocate(8 * WRITE_BUFFER_LONGS).order(ByteOrder.LITTLE_ENDIAN);
        long patches = 0, documents = corpus.documents();
        for (long d = 0; d < documents; d++) {
            long start = corpus.documentStart(d), length = corpus.documentStart(d + 1) - start;
            if (length > Integer.MAX_VALUE - 8)
                throw new PatchworkException("document " + d + " has " + length + " tokens, too many to patch at once: split the corpus into smaller documents");
            int[] ids = corpus.ids(start, (int) length);
            float[] h = patcher.usesEntropies() ? entropies.entropies(start, (int) length) : null;
            long at = start;
            for (int len : patcher.patch(ids, h, false).lengths()) {
                if (!buf.hasRemaining()) flush(ch, buf);
                buf.putLong(at);
                at += len;
                patches++;
            }
            progress.update(d + 1, documents);
            if (stop.getAsBoolean())
                throw new PatchworkException("patching the corpus was interrupted; " + file + " was not written (run again to start over)");
        }
        if (!buf.hasRemaining()) flush(ch, buf);
        buf.putLong(corpus.tokens());
        flush(ch, buf);
        ByteBuffer h = header(patches, corpus.tokens(), key);
        while (h.hasRemaining()) ch.write(h, h.position());
    }

    private static void flush(FileChannel ch, ByteBuffer buf) throws IOException {
        buf.flip();
        while (buf.hasRemaining()) ch.write(buf);
        buf.clear();
    }

    private static ByteBuffer header(long patches, long tokens, byte[] key) {
        ByteBuffer b = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        b.put(MAGIC).putInt(VERSION).putInt(HEADER_BYTES).putLong(patches).putLong(tokens).put(key);
        return b.position(0);
    }

    /** What the patches depend on: the corpus, the entropies (if read) and every setting of the rule. */
    static byte[] key(ByteCorpus corpus, Patcher patcher, EntropyCache entropies) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update(EntropyCache.corpusHash(corpus));
            if (entropies != null) {
                try (FileChannel ch = FileChannel.open(entropies.file(), StandardOpenOption.READ)) {
                    ByteBuffer b = ByteBuffer.allocate(EntropyCache.HEADER_BYTES);
                    while (b.hasRemaining() && ch.read(b) >= 0) {
                        // the whole header: it holds the corpus and entropy model hashes
                    }
                    sha.update(b.flip());
                }
            }
            sha.update(patcher.toString().getBytes(StandardCharsets.UTF_8));
            return sha.digest();
        } catch (IOException e) {
            throw new UncheckedIOException("reading " + entropies.file() + ": " + e, e);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JDK", e);
        }
    }

    /** Null if {@code file} is complete and has {@code key}; otherwise why it must be rebuilt. */
    static String staleness(Path file, byte[] key, long tokens) {
        ByteBuffer b = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        long size;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            size = ch.size();
            while (b.hasRemaining() && ch.read(b, b.position()) >= 0) {
                // the header, or up to the end of a short file
            }
        } catch (NoSuchFileException e) {
            return "no patches yet";
        } catch (IOException e) {
            return "the patches file could not be read (" + e + ")";
        }
        if (b.position() < HEADER_BYTES) return "the patches file is truncated";
        b.flip();
        byte[] magic = new byte[MAGIC.length];
        b.get(magic);
        if (!Arrays.equals(magic, MAGIC)) return "the file is not a patches file (bad magic)";
        int version = b.getInt(), headerBytes = b.getInt();
        if (version != VERSION) return "the patches file has format version " + version + ", this build writes " + VERSION;
        if (headerBytes != HEADER_BYTES) return "the patches file's header is corrupt";
        long patches = b.getLong(), fileTokens = b.getLong();
        byte[] fileKey = new byte[32];
        b.get(fileKey);
        if (!Arrays.equals(fileKey, key) || fileTokens != tokens)
            return "the corpus, the entropies or the patching settings changed";
        if (patches < 0 || size != HEADER_BYTES + 8 * (patches + 1)) return "the patches file is truncated or too long";
        return null;
    }
}

package dev.patchwork.patch;

import dev.patchwork.data.ByteCorpus;
import dev.patchwork.io.AtomicFiles;
import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.tensor.ParameterLayout;
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
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Objects;
import java.util.function.BooleanSupplier;

/**
 * The next-byte entropy of every token of a prepared corpus, computed once by an {@link EntropyModel} and kept in a
 * file beside the run ({@code RUN/cache/entropies-<corpus>.bin}), memory-mapped for reading.
 *
 * <p>File layout, little-endian:
 * <pre>
 *   header   128 bytes: magic "PWENTROP", format version, header size, dtype (1 = float32), chunk length,
 *            tokens, documents, SHA-256 of the corpus, SHA-256 of the entropy model, zero padding
 *   values   one float32 per token of the corpus: H[t] in nats, in token order
 * </pre>
 * Values are float32, the precision they are computed in (the reference computes in bf16 and does not store them).
 * The corpus hash covers the prepared file's header (source description, source fingerprint, counts), so it changes
 * whenever the corpus is re-prepared from a changed source; the model hash covers its config and every parameter
 * value. A file whose header does not match the corpus and model at hand (or that is damaged, truncated, or of
 * another format version) is rebuilt, never reused; {@link #rebuildReason()} says why.
 *
 * <p>The file is written under a temporary name and renamed into place when complete, so a crash, an exception or a
 * {@linkplain Cancelled cancellation} never leaves a partial cache.
 */
public final class EntropyCache implements AutoCloseable {
    public static final String PREFIX = "entropies-";
    public static final String EXTENSION = ".bin";
    static final int VERSION = 1;
    static final int HEADER_BYTES = 128;
    static final int DTYPE_FLOAT32 = 1;
    private static final byte[] MAGIC = "PWENTROP".getBytes(StandardCharsets.US_ASCII);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    /** Tokens scored per window: chunks are sorted by length within a window, so a larger one packs batches better. */
    static final long WINDOW_TOKENS = 1 << 20;
    /** Bound on a window, so that its values (plus one chunk) fit in an array. */
    private static final long MAX_WINDOW_TOKENS = 1 << 28;
    /** Largest corpus header read for the hash (a corrupt size field must not make us allocate gigabytes). */
    private static final int MAX_CORPUS_HEADER = 1 << 20;

    /** How far a build has come: documents and tokens done (of the totals) after {@code seconds}. */
    public record Status(long documents, long totalDocuments, long tokens, long totalTokens, double seconds) {
        public double tokensPerSecond() {
            return seconds > 0 ? tokens / seconds : 0;
        }

        public boolean finished() {
            return tokens == totalTokens;
        }
    }

    /** Told after every forward pass of a build, and once more when it is complete ({@link Status#finished()}). */
    @FunctionalInterface
    public interface Progress {
        Progress NONE = status -> {};

        void update(Status status);
    }

    /** A build stopped on request; nothing was written. */
    public static final class Cancelled extends PatchworkException {
        Cancelled(Path file) {
            super("computing entropies was interrupted; " + file + " was not written (run again to start over)");
        }
    }

    private final Path file;
    private final ByteCorpus corpus;
    private final String rebuildReason;
    private final long tokens;
    private final Arena arena;
    private final MemorySegment data;

    private EntropyCache(Path file, ByteCorpus corpus, String rebuildReason, Arena arena, MemorySegment data) {
        this.file = file;
        this.corpus = corpus;
        this.rebuildReason = rebuildReason;
        this.tokens = corpus.tokens();
        this.arena = arena;
        this.data = data;
    }

    /** Where the entropies of {@code corpus} go in {@code cacheDir}: named after its prepared file. */
    public static Path fileFor(ByteCorpus corpus, Path cacheDir) {
        String name = corpus.file().getFileName().toString();
        int dot = name.lastIndexOf('.');
        return cacheDir.resolve(PREFIX + (dot > 0 ? name.substring(0, dot) : name) + EXTENSION);
    }

    /** The entropies of {@code corpus} under {@code model}, from {@code cacheDir} or computed there now. */
    public static EntropyCache open(ByteCorpus corpus, EntropyModel model, Path cacheDir) {
        return open(corpus, model, fileFor(corpus, cacheDir), Progress.NONE, () -> false);
    }

    /**
     * The entropies of {@code corpus} under {@code model}: {@code file} if it holds exactly those, else computed
     * (replacing it). The cache keeps a reference to {@code corpus}, which must stay open while it is used.
     *
     * @param progress told how the computation advances (never called when the file is reused)
     * @param stop     checked after every forward pass; when it returns true the build stops with {@link Cancelled}
     * @throws Cancelled            if {@code stop} asked to stop; no file is left behind
     * @throws UncheckedIOException if the file cannot be read, written or mapped
     */
    public static EntropyCache open(ByteCorpus corpus, EntropyModel model, Path file, Progress progress,
                                    BooleanSupplier stop) {
        return open(corpus, model, file, progress, stop, Math.min(MAX_WINDOW_TOKENS,
                Math.max(WINDOW_TOKENS, 4L * model.maxBatchRows())));
    }

    static EntropyCache open(ByteCorpus corpus, EntropyModel model, Path file, Progress progress, BooleanSupplier stop,
                             long windowTokens) {
        Header expected = new Header(DTYPE_FLOAT32, model.chunkLength(), corpus.tokens(), corpus.documents(),
                corpusHash(corpus), modelHash(model));
        String reason = staleness(file, expected);
        if (reason != null) {
            try {
                AtomicFiles.writeChannel(file, ch -> new Builder(corpus, model, file, progress, stop, windowTokens)
                        .write(ch, expected));
            } catch (IOException e) {
                throw new UncheckedIOException("writing the entropy cache " + file + ": " + e, e);
            }
            String after = staleness(file, expected);
            if (after != null) throw new IllegalStateException("the entropy cache just written is invalid: " + after);
        }
        return map(file, corpus, reason);
    }

    private static EntropyCache map(Path file, ByteCorpus corpus, String reason) {
        Arena arena = Arena.ofShared();
        return new EntropyCache(file, corpus, reason, arena, MappedFiles.readOnly(file, arena, "the entropy cache"));
    }

    /** The cache file. */
    public Path file() {
        return file;
    }

    /** Whether this open computed the entropies (false: an existing file matched and was reused). */
    public boolean rebuilt() {
        return rebuildReason != null;
    }

    /** Why the entropies were computed ("no cache yet", "the corpus changed", ...), or null if the file was reused. */
    public String rebuildReason() {
        return rebuildReason;
    }

    /** Number of values: the corpus' token count. */
    public long tokens() {
        return tokens;
    }

    /** Entropy (nats) at token {@code position}: the model's uncertainty about token {@code position + 1}. */
    public float entropy(long position) {
        Objects.checkIndex(position, tokens);
        return data.get(F32, HEADER_BYTES + 4 * position);
    }

    /** Copies the entropies of tokens {@code [position, position + length)} to {@code dst[offset ...]}. */
    public void copy(long position, float[] dst, int offset, int length) {
        Objects.checkFromIndexSize(position, length, tokens);
        Objects.checkFromIndexSize(offset, length, dst.length);
        MemorySegment.copy(data, F32, HEADER_BYTES + 4 * position, dst, offset, length);
    }

    /** The entropies of tokens {@code [position, position + length)} in a new array. */
    public float[] entropies(long position, int length) {
        float[] out = new float[length];
        copy(position, out, 0, length);
        return out;
    }

    /** The entropies of document {@code d} of the corpus, BOS to EOS. */
    public float[] document(long d) {
        long start = corpus.documentStart(d), length = corpus.documentStart(d + 1) - start;
        if (length > Integer.MAX_VALUE - 8)
            throw new IllegalArgumentException("document " + d + " has " + length + " tokens, too many for one array; use copy()");
        return entropies(start, (int) length);
    }

    /** Unmaps the file (the corpus stays open). Not to be called while other threads still read. */
    @Override
    public void close() {
        arena.close();
    }

    // ---------------------------------------------------------------------------------------------------------------
    // header, identity hashes, staleness

    /** The identifying fields of a cache file. */
    record Header(int dtype, int chunkLength, long tokens, long documents, byte[] corpusHash, byte[] modelHash) {
        ByteBuffer encode() {
            ByteBuffer b = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
            b.put(MAGIC).putInt(VERSION).putInt(HEADER_BYTES).putInt(dtype).putInt(chunkLength);
            b.putLong(tokens).putLong(documents).put(corpusHash).put(modelHash);
            return b.position(0);
        }
    }

    /**
     * Null if {@code file} is a complete cache with exactly the {@code expected} header; otherwise what is wrong with
     * it, as a message for the user.
     */
    static String staleness(Path file, Header expected) {
        ByteBuffer b = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        long size;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            size = ch.size();
            while (b.hasRemaining() && ch.read(b, b.position()) >= 0) {
                // read the whole header, or up to the end of a short file
            }
        } catch (NoSuchFileException e) {
            return "no cache yet";
        } catch (IOException e) {
            return "the cache file could not be read (" + e + ")";
        }
        if (b.position() < HEADER_BYTES)
            return "the cache file is truncated (" + size + " bytes, shorter than its header)";
        b.flip();
        byte[] magic = new byte[MAGIC.length];
        b.get(magic);
        if (!Arrays.equals(magic, MAGIC)) return "the file is not an entropy cache (bad magic)";
        int version = b.getInt(), headerBytes = b.getInt(), dtype = b.getInt(), chunk = b.getInt();
        if (version != VERSION) return "the cache has format version " + version + ", this build writes " + VERSION;
        if (headerBytes != HEADER_BYTES) return "the cache header is corrupt (header size " + headerBytes + ")";
        if (dtype != expected.dtype) return "the cache holds dtype " + dtype + ", expected " + expected.dtype + " (float32)";
        long tokens = b.getLong(), documents = b.getLong();
        byte[] corpusHash = new byte[32], modelHash = new byte[32];
        b.get(corpusHash).get(modelHash);
        if (!Arrays.equals(corpusHash, expected.corpusHash) || tokens != expected.tokens
                || documents != expected.documents)
            return "the corpus changed (cache made for " + documents + " documents, " + tokens + " tokens, corpus "
                    + hex(corpusHash) + "; now " + expected.documents + " documents, " + expected.tokens
                    + " tokens, corpus " + hex(expected.corpusHash) + ")";
        if (!Arrays.equals(modelHash, expected.modelHash))
            return "the entropy model changed (cache made with model " + hex(modelHash) + ", now "
                    + hex(expected.modelHash) + ")";
        if (chunk != expected.chunkLength)
            return "the chunk length changed (cache made with " + chunk + ", now " + expected.chunkLength + ")";
        long expectedSize = HEADER_BYTES + 4 * expected.tokens;
        if (size != expectedSize)
            return "the cache file is " + (size < expectedSize ? "truncated" : "too long") + " (" + size
                    + " bytes, its header says " + expectedSize + ")";
        return null;
    }

    /**
     * SHA-256 of the prepared corpus' header, the first {@code header size} bytes of its file (the int at offset 12
     * of the {@code .pwcorpus} format): its source description and fingerprint (sizes and times of the source files)
     * and its counts, which is what the corpus cache itself compares to decide that a corpus is unchanged.
     */
    static byte[] corpusHash(ByteCorpus corpus) {
        Path f = corpus.file();
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
            ByteBuffer fixed = readFully(ch, 0, 16).order(ByteOrder.LITTLE_ENDIAN);
            int size = fixed.getInt(12);
            if (size < 16 || size > MAX_CORPUS_HEADER || size > ch.size())
                throw new PatchworkException(f + " has a corrupt header: delete it so that it is prepared again");
            MessageDigest sha = sha256();
            sha.update(readFully(ch, 0, size));
            return sha.digest();
        } catch (IOException e) {
            throw new UncheckedIOException("reading the header of " + f + ": " + e, e);
        }
    }

    /** SHA-256 of the model's config (hub JSON) and of every parameter: names, shapes and little-endian values. */
    static byte[] modelHash(EntropyModel model) {
        MessageDigest sha = sha256();
        sha.update(model.model().config().toJson().getBytes(StandardCharsets.UTF_8));
        ParameterBuffer params = model.model().parameters();
        for (ParameterLayout.View v : params.layout().views()) {
            sha.update((v.name() + Arrays.toString(v.shape())).getBytes(StandardCharsets.UTF_8));
            MemorySegment values = params.slice(v);
            // asByteBuffer is limited to 2 GB: hash large tensors in pieces
            for (long at = 0, n = values.byteSize(); at < n; at += 1 << 26) {
                sha.update(values.asSlice(at, Math.min(1 << 26, n - at)).asByteBuffer());
            }
        }
        return sha.digest();
    }

    private static ByteBuffer readFully(FileChannel ch, long position, int n) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n);
        while (b.hasRemaining()) {
            if (ch.read(b, position + b.position()) < 0) throw new IOException("unexpected end of file");
        }
        return b.flip();
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JDK", e);
        }
    }

    private static String hex(byte[] hash) {
        return HexFormat.of().formatHex(hash, 0, 6);
    }

    // ---------------------------------------------------------------------------------------------------------------
    // building

    /**
     * Scores the corpus window by window: a window is a run of consecutive chunks (a document's chunks start at its
     * BOS, every {@code chunkLength} ids), whose entropies are gathered in memory and appended to the file, so memory
     * stays bounded whatever the corpus size while batches still group chunks of similar lengths.
     */
    private static final class Builder {
        private final ByteCorpus corpus;
        private final EntropyModel model;
        private final Path file;
        private final Progress progress;
        private final BooleanSupplier stop;
        private final long windowTokens;
        private final long startNanos = System.nanoTime();
        private long documentsDone, tokensDone;

        Builder(ByteCorpus corpus, EntropyModel model, Path file, Progress progress, BooleanSupplier stop,
                long windowTokens) {
            this.corpus = corpus;
            this.model = model;
            this.file = file;
            this.progress = progress;
            this.stop = stop;
            this.windowTokens = windowTokens;
        }

        void write(FileChannel ch, Header header) throws IOException {
            writeFully(ch, header.encode());
            int chunk = model.chunkLength();
            long total = corpus.tokens();
            long position = 0, d = 0, docEnd = corpus.documentStart(1);
            Window w = new Window();
            while (position < total) {
                w.clear(position);
                while (position < total && position - w.start < windowTokens) {
                    if (position == docEnd) docEnd = corpus.documentStart(++d + 1);
                    int length = (int) Math.min(chunk, docEnd - position);
                    w.add(length);
                    position += length;
                }
                model.score(w, this::afterBatch);
                writeFully(ch, w.encode());
                documentsDone = position == docEnd ? d + 1 : d;
                report();
            }
        }

        private void afterBatch(int ids) {
            tokensDone += ids;
            if (stop.getAsBoolean()) throw new Cancelled(file);
            if (tokensDone < corpus.tokens()) report(); // the last batch is reported with its window's documents
        }

        private void report() {
            progress.update(new Status(documentsDone, corpus.documents(), tokensDone, corpus.tokens(),
                    (System.nanoTime() - startNanos) / 1e9));
        }

        private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
            while (b.hasRemaining()) ch.write(b);
        }

        /** Consecutive chunks starting at token {@code start}, and their entropies once scored. */
        private final class Window implements EntropyModel.Chunks {
            long start;
            int count, size;
            int[] offsets = new int[64], lengths = new int[64];
            float[] entropies = new float[0];

            void clear(long start) {
                this.start = start;
                count = 0;
                size = 0;
            }

            void add(int length) {
                if (count == offsets.length) {
                    offsets = Arrays.copyOf(offsets, 2 * count);
                    lengths = Arrays.copyOf(lengths, 2 * count);
                }
                offsets[count] = size;
                lengths[count++] = length;
                size += length;
                if (entropies.length < size) entropies = Arrays.copyOf(entropies, Math.max(size, 2 * entropies.length));
            }

            @Override
            public int count() {
                return count;
            }

            @Override
            public int length(int i) {
                return lengths[i];
            }

            @Override
            public void read(int i, int[] dst, int offset) {
                corpus.copy(start + offsets[i], dst, offset, lengths[i]);
            }

            @Override
            public void write(int i, float[] values, int offset) {
                System.arraycopy(values, offset, entropies, offsets[i], lengths[i]);
            }

            ByteBuffer encode() {
                ByteBuffer b = ByteBuffer.allocate(4 * size).order(ByteOrder.LITTLE_ENDIAN);
                b.asFloatBuffer().put(entropies, 0, size);
                return b;
            }
        }
    }
}

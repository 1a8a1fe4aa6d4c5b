package dev.patchwork.data;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * The prepared-corpus file ({@code .pwcorpus}), little-endian:
 * <pre>
 *   header    magic "PWCORPUS", version, header size, counts, offsets, source fingerprint, source description
 *   bytes     the documents' raw bytes, back to back (empty documents are dropped)
 *   index     documents+1 longs, 8-aligned: the token position of each document's BOS, then the token count
 * </pre>
 * Why raw bytes plus an index rather than one uint16 per token id: half the disk and page cache (a corpus twice as
 * large stays in RAM), the bytes region is the source content verbatim, and the ids are cheap to rebuild on the fly:
 * document {@code d} occupies tokens {@code [start(d), start(d+1))} = BOS, its bytes (+4), EOS, so its bytes begin at
 * byte offset {@code start(d) - 2d}.
 */
final class CorpusFileFormat {
    static final String EXTENSION = ".pwcorpus";
    static final int VERSION = 1;
    private static final byte[] MAGIC = "PWCORPUS".getBytes(StandardCharsets.US_ASCII);
    private static final int FINGERPRINT_BYTES = 32;
    /** Fixed part: magic 8, version 4, header size 4, five longs, fingerprint 32, description length 4. */
    private static final int FIXED = 8 + 4 + 4 + 5 * 8 + FINGERPRINT_BYTES + 4;
    /** Bound on a header read from disk, so a corrupt size field cannot make us allocate gigabytes. */
    private static final int MAX_HEADER = 1 << 20;

    private CorpusFileFormat() {}

    /**
     * @param documents      number of (non-empty) documents
     * @param emptyDocuments documents of zero bytes that were dropped (kept for messages)
     * @param bytes          size of the bytes region
     */
    record Header(String description, byte[] fingerprint, long documents, long emptyDocuments, long bytes,
                  long bytesOffset, long indexOffset) {
        Header {
            if (fingerprint.length != FINGERPRINT_BYTES) throw new IllegalArgumentException("fingerprint must be SHA-256");
        }

        /** A header for {@code description} with zero counts, sized like the final one (same description). */
        static Header empty(String description, byte[] fingerprint) {
            return new Header(description, fingerprint, 0, 0, 0, sizeFor(description), 0);
        }

        long tokens() {
            return bytes + 2 * documents;
        }

        /** Where the index starts for a bytes region of {@code bytes} bytes: the next multiple of 8. */
        static long indexOffsetFor(long bytesOffset, long bytes) {
            return (bytesOffset + bytes + 7) & ~7L;
        }

        long fileSize() {
            return indexOffset + 8 * (documents + 1);
        }

        static int sizeFor(String description) {
            int n = FIXED + description.getBytes(StandardCharsets.UTF_8).length;
            return (n + 7) & ~7;
        }

        ByteBuffer encode() {
            byte[] desc = description.getBytes(StandardCharsets.UTF_8);
            int size = sizeFor(description);
            ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
            b.put(MAGIC).putInt(VERSION).putInt(size);
            b.putLong(documents).putLong(emptyDocuments).putLong(bytes).putLong(bytesOffset).putLong(indexOffset);
            b.put(fingerprint).putInt(desc.length).put(desc);
            return b.position(0);
        }

        /**
         * Reads and checks the header of {@code file}.
         *
         * @throws DataException naming what is wrong (not a corpus file, other version, truncated)
         */
        static Header read(FileChannel ch, Object file) throws IOException {
            ByteBuffer fixed = readFully(ch, 0, FIXED, file);
            byte[] magic = new byte[MAGIC.length];
            fixed.get(magic);
            if (!Arrays.equals(magic, MAGIC))
                throw new DataException(file + " is not a prepared corpus file (bad magic): delete it to rebuild");
            int version = fixed.getInt();
            if (version != VERSION)
                throw new DataException(file + " has prepared-corpus format version " + version + ", this build reads "
                        + VERSION + ": delete it to rebuild");
            int size = fixed.getInt();
            long documents = fixed.getLong(), empty = fixed.getLong(), bytes = fixed.getLong();
            long bytesOffset = fixed.getLong(), indexOffset = fixed.getLong();
            byte[] fingerprint = new byte[FINGERPRINT_BYTES];
            fixed.get(fingerprint);
            int descLength = fixed.getInt();
            if (size < FIXED || size > MAX_HEADER || descLength < 0 || descLength > size - FIXED || documents < 0
                    || empty < 0 || bytes < 0 || bytesOffset != size
                    || indexOffset != indexOffsetFor(bytesOffset, bytes))
                throw new DataException(file + " has a corrupt prepared-corpus header: delete it to rebuild");
            String description = StandardCharsets.UTF_8.decode(readFully(ch, FIXED, descLength, file)).toString();
            Header h = new Header(description, fingerprint, documents, empty, bytes, bytesOffset, indexOffset);
            if (ch.size() != h.fileSize())
                throw new DataException(file + " is truncated or padded: " + ch.size() + " bytes, the header says "
                        + h.fileSize() + ": delete it to rebuild");
            return h;
        }

        private static ByteBuffer readFully(FileChannel ch, long position, int n, Object file) throws IOException {
            ByteBuffer b = ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
            while (b.hasRemaining()) {
                if (ch.read(b, position + b.position()) < 0)
                    throw new DataException(file + " is too short to be a prepared corpus file: delete it to rebuild");
            }
            return b.flip();
        }
    }
}

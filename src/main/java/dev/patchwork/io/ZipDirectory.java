package dev.patchwork.io;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The entries of a zip file held in memory (a mapped file), read from its central directory, with the data of
 * stored (uncompressed) entries handed out as slices of that memory: this is what lets a PyTorch checkpoint's tensors
 * be used in place. {@code java.util.zip} cannot do that, as it hides where an entry's data starts.
 *
 * <p>Every length and offset read from the file is checked against the file before it is used, so a truncated or
 * corrupt file is a {@link CheckpointException}, never an out-of-bounds error. Compressed and encrypted entries are
 * listed but their data is refused: PyTorch stores every record uncompressed.
 */
final class ZipDirectory {
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    static final int LOCAL_HEADER_SIGNATURE = 0x04034b50;
    private static final int CENTRAL_HEADER_SIGNATURE = 0x02014b50;
    private static final int END_SIGNATURE = 0x06054b50;
    private static final int ZIP64_END_SIGNATURE = 0x06064b50;
    private static final int ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
    private static final int LOCAL_HEADER_SIZE = 30;
    private static final int CENTRAL_HEADER_SIZE = 46;
    private static final int END_SIZE = 22;
    private static final int ZIP64_END_SIZE = 56;
    private static final int ZIP64_LOCATOR_SIZE = 20;
    private static final int ZIP64_EXTRA_ID = 0x0001;
    private static final int MAX_COMMENT = 0xFFFF;
    /** A 16-bit or 32-bit field holding this value means "see the ZIP64 record". */
    private static final int U16_MAX = 0xFFFF;
    private static final long U32_MAX = 0xFFFFFFFFL;
    private static final int METHOD_STORED = 0;
    private static final int FLAG_ENCRYPTED = 1;

    /** One file of the archive as its central directory describes it. */
    record Entry(String name, int method, int flags, long compressedSize, long size, long localHeaderOffset) {}

    private final Path path;
    private final MemorySegment file;
    private final long centralDirectoryOffset;
    private final Map<String, Entry> entries;

    private ZipDirectory(Path path, MemorySegment file, long centralDirectoryOffset, Map<String, Entry> entries) {
        this.path = path;
        this.file = file;
        this.centralDirectoryOffset = centralDirectoryOffset;
        this.entries = entries;
    }

    /** Reads the central directory of the zip file {@code file} (the content of {@code path}). */
    static ZipDirectory read(Path path, MemorySegment file) {
        long size = file.byteSize();
        long end = findEnd(path, file);
        long count = u16(file, end + 10);
        long cdSize = u32(file, end + 12);
        long cdOffset = u32(file, end + 16);
        long recordsEnd = end; // where the central directory must stop: the first end record
        long locator = end - ZIP64_LOCATOR_SIZE;
        if (locator >= 0 && file.get(U32, locator) == ZIP64_LOCATOR_SIGNATURE) {
            // PyTorch always writes the ZIP64 records; their 64-bit fields replace the 16/32-bit ones.
            long zip64End = file.get(U64, locator + 8);
            if (zip64End < 0 || zip64End > locator - ZIP64_END_SIZE || file.get(U32, zip64End) != ZIP64_END_SIGNATURE)
                throw new CheckpointException(path, "corrupt zip: the ZIP64 end record is not where its locator says (byte "
                        + Long.toUnsignedString(zip64End) + ")");
            count = file.get(U64, zip64End + 32);
            cdSize = file.get(U64, zip64End + 40);
            cdOffset = file.get(U64, zip64End + 48);
            recordsEnd = zip64End;
        } else if (count == U16_MAX || cdSize == U32_MAX || cdOffset == U32_MAX) {
            throw new CheckpointException(path, "corrupt zip: the end record refers to a ZIP64 record that is missing");
        }
        if (cdOffset < 0 || cdSize < 0 || cdOffset > recordsEnd || cdSize > recordsEnd - cdOffset)
            throw new CheckpointException(path, "corrupt zip: the central directory (" + Long.toUnsignedString(cdSize)
                    + " bytes at byte " + Long.toUnsignedString(cdOffset) + ") lies outside the file of " + size + " bytes");
        if (count < 0 || count > cdSize / CENTRAL_HEADER_SIZE)
            throw new CheckpointException(path, "corrupt zip: " + Long.toUnsignedString(count) + " entries cannot fit in a central directory of "
                    + cdSize + " bytes");
        Map<String, Entry> entries = new LinkedHashMap<>();
        long at = cdOffset, cdEnd = cdOffset + cdSize;
        for (long i = 0; i < count; i++) {
            Entry e = readCentralHeader(path, file, at, cdEnd);
            if (entries.putIfAbsent(e.name(), e) != null)
                throw new CheckpointException(path, "corrupt zip: entry " + e.name() + " appears twice");
            at += CENTRAL_HEADER_SIZE + u16(file, at + 28) + u16(file, at + 30) + u16(file, at + 32);
        }
        return new ZipDirectory(path, file, cdOffset, entries);
    }

    /**
     * The end-of-central-directory record: the last 22 bytes unless the archive has a comment, so search backwards
     * for a signature whose comment length reaches exactly the end of the file.
     */
    private static long findEnd(Path path, MemorySegment file) {
        long size = file.byteSize();
        long lowest = Math.max(0, size - END_SIZE - MAX_COMMENT);
        for (long at = size - END_SIZE; at >= lowest; at--)
            if (file.get(U32, at) == END_SIGNATURE && at + END_SIZE + u16(file, at + 20) == size) return at;
        throw new CheckpointException(path, "corrupt zip: no end-of-central-directory record (the file is truncated "
                + "or is not a zip archive)");
    }

    private static Entry readCentralHeader(Path path, MemorySegment file, long at, long cdEnd) {
        if (at > cdEnd - CENTRAL_HEADER_SIZE || file.get(U32, at) != CENTRAL_HEADER_SIGNATURE)
            throw new CheckpointException(path, "corrupt zip: bad central directory entry at byte " + at);
        int flags = u16(file, at + 8);
        int method = u16(file, at + 10);
        long compressed = u32(file, at + 20);
        long size = u32(file, at + 24);
        int nameLength = u16(file, at + 28), extraLength = u16(file, at + 30), commentLength = u16(file, at + 32);
        long localHeader = u32(file, at + 42);
        long nameAt = at + CENTRAL_HEADER_SIZE;
        if (nameAt + nameLength + extraLength + commentLength > cdEnd)
            throw new CheckpointException(path, "corrupt zip: central directory entry at byte " + at + " runs past the directory");
        String name = new String(file.asSlice(nameAt, nameLength).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
        // The ZIP64 extra field holds, in this order, exactly those of the three values whose 32-bit field is full.
        long extra = nameAt + nameLength, extraEnd = extra + extraLength;
        while (extra + 4 <= extraEnd) {
            int id = u16(file, extra), length = u16(file, extra + 2);
            long data = extra + 4;
            if (data + length > extraEnd)
                throw new CheckpointException(path, "corrupt zip: extra field of entry " + name + " runs past its end");
            if (id == ZIP64_EXTRA_ID) {
                long[] values = {size, compressed, localHeader};
                long next = data;
                for (int v = 0; v < values.length; v++) {
                    if (values[v] != U32_MAX) continue;
                    if (next + 8 > data + length)
                        throw new CheckpointException(path, "corrupt zip: ZIP64 field of entry " + name + " is too short");
                    values[v] = file.get(U64, next);
                    next += 8;
                }
                size = values[0];
                compressed = values[1];
                localHeader = values[2];
            }
            extra = data + length;
        }
        if (size < 0 || compressed < 0 || localHeader < 0)
            throw new CheckpointException(path, "corrupt zip: entry " + name + " has a size or offset beyond 2^63");
        return new Entry(name, method, flags, compressed, size, localHeader);
    }

    /** Entry names in central-directory order. */
    List<String> names() {
        return new ArrayList<>(entries.keySet());
    }

    /** The entry called {@code name}, or null. */
    Entry entry(String name) {
        return entries.get(name);
    }

    /**
     * The bytes of a stored entry, as a slice of the file (no copy). The local header is checked against the central
     * directory; its own size fields are not used, as PyTorch writes them as zero and sets the data-descriptor flag.
     */
    MemorySegment data(Entry e) {
        if ((e.flags() & FLAG_ENCRYPTED) != 0)
            throw new CheckpointException(path, "zip entry " + e.name() + " is encrypted; PyTorch never encrypts checkpoints");
        if (e.method() != METHOD_STORED)
            throw new CheckpointException(path, "zip entry " + e.name() + " is compressed (method " + e.method()
                    + "); torch.save stores every record uncompressed, so the file was probably re-zipped: "
                    + "re-create it with `zip -0` or save it again with torch.save");
        if (e.compressedSize() != e.size())
            throw new CheckpointException(path, "corrupt zip: stored entry " + e.name() + " has a compressed size ("
                    + e.compressedSize() + ") different from its size (" + e.size() + ")");
        long at = e.localHeaderOffset();
        if (at > centralDirectoryOffset - LOCAL_HEADER_SIZE || file.get(U32, at) != LOCAL_HEADER_SIGNATURE)
            throw new CheckpointException(path, "corrupt zip: no local header for entry " + e.name() + " at byte " + at);
        int nameLength = u16(file, at + 26), extraLength = u16(file, at + 28);
        long start = at + LOCAL_HEADER_SIZE + nameLength + extraLength;
        if (start > centralDirectoryOffset || e.size() > centralDirectoryOffset - start)
            throw new CheckpointException(path, "corrupt zip: the data of entry " + e.name() + " (" + e.size()
                    + " bytes at byte " + start + ") runs into the central directory");
        String localName = new String(file.asSlice(at + LOCAL_HEADER_SIZE, nameLength).toArray(ValueLayout.JAVA_BYTE),
                StandardCharsets.UTF_8);
        if (!localName.equals(e.name()))
            throw new CheckpointException(path, "corrupt zip: the local header at byte " + at + " names " + localName
                    + ", the central directory " + e.name());
        return file.asSlice(start, e.size());
    }

    private static int u16(MemorySegment file, long at) {
        return file.get(U16, at) & 0xFFFF;
    }

    private static long u32(MemorySegment file, long at) {
        return file.get(U32, at) & U32_MAX;
    }
}

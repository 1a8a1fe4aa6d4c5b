package dev.patchwork.io;

import java.util.Map;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Writes tensors to a safetensors file byte for byte in their own dtype (BF16 stays BF16), for lossless layout
 * conversion: each tensor is the concatenation of one or more raw segments (several when hash tables are fused into
 * one). Atomic like {@link SafetensorsWriter}; the header is space-padded to a multiple of 8 bytes.
 */
public final class TensorCopyWriter {
    private record Item(String name, Dtype dtype, long[] shape, List<MemorySegment> parts) {}

    private final List<Item> items = new ArrayList<>();
    private final Set<String> names = new HashSet<>();

    /** Adds {@code t}'s bytes under {@code name}. */
    public TensorCopyWriter add(String name, TensorEntry t) {
        return add(name, t.dtype(), t.shape(), List.of(t.data()));
    }

    /** Adds a tensor whose bytes are {@code parts} one after the other; their sizes must add up to the shape's. */
    public TensorCopyWriter add(String name, Dtype dtype, long[] shape, List<MemorySegment> parts) {
        if (name.equals(SafetensorsHeader.METADATA_KEY)) throw new IllegalArgumentException("'" + name + "' cannot name a tensor");
        if (!names.add(name)) throw new IllegalArgumentException("tensor " + name + " added twice");
        long elements = 1;
        for (long d : shape) elements = Math.multiplyExact(elements, d);
        long bytes = parts.stream().mapToLong(MemorySegment::byteSize).sum();
        if (bytes != elements * dtype.byteSize())
            throw new IllegalArgumentException("tensor " + name + " " + dtype + Arrays.toString(shape) + " needs "
                    + elements * dtype.byteSize() + " bytes, its parts hold " + bytes);
        items.add(new Item(name, dtype, shape.clone(), List.copyOf(parts)));
        return this;
    }

    /** Writes the file atomically. */
    public void write(Path file) {
        byte[] header = header();
        try {
            AtomicFiles.writeChannel(file, ch -> {
                ByteBuffer head = ByteBuffer.allocate(Long.BYTES + header.length).order(ByteOrder.LITTLE_ENDIAN);
                head.putLong(header.length).put(header).flip();
                writeFully(ch, head);
                ByteBuffer staging = ByteBuffer.allocateDirect(SafetensorsWriter.CHUNK_BYTES);
                MemorySegment stagingSegment = MemorySegment.ofBuffer(staging);
                for (Item it : items)
                    for (MemorySegment part : it.parts())
                        for (long pos = 0; pos < part.byteSize(); pos += SafetensorsWriter.CHUNK_BYTES) {
                            int len = (int) Math.min(SafetensorsWriter.CHUNK_BYTES, part.byteSize() - pos);
                            MemorySegment.copy(part, pos, stagingSegment, 0, len);
                            writeFully(ch, staging.clear().limit(len));
                        }
            });
        } catch (IOException e) {
            throw new CheckpointException(file, "cannot write: " + e.getMessage(), e);
        }
    }

    private byte[] header() {
        List<SafetensorsHeader.Entry> entries = new ArrayList<>();
        for (Item it : items)
            entries.add(new SafetensorsHeader.Entry(it.name(), it.dtype(), it.shape(),
                    it.parts().stream().mapToLong(MemorySegment::byteSize).sum()));
        return SafetensorsHeader.encode(Map.of(), entries);
    }

    private static void writeFully(FileChannel ch, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) ch.write(buf);
    }
}

package dev.patchwork.io;

import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.tensor.ParameterLayout;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Collects float32 tensors and optional metadata, then writes them as one safetensors file, atomically (a crash
 * leaves the previous file, never a partial one). Tensors are stored in the order they were added, each right after
 * the previous one; the JSON header is padded with spaces to a multiple of 8 bytes so the data section, and every
 * float in it, is 8-byte aligned in the file (and so in a mapping of it).
 */
public final class SafetensorsWriter {
    /**
     * Tensor bytes are staged through one direct buffer of this size: a ByteBuffer cannot exceed 2 GB, and segments
     * over a {@code float[]} cannot be viewed as a ByteBuffer at all.
     */
    static final int CHUNK_BYTES = 1 << 20;

    private final List<TensorData> tensors = new ArrayList<>();
    private final Set<String> names = new HashSet<>();
    private final Map<String, String> metadata = new LinkedHashMap<>();

    public SafetensorsWriter add(TensorData tensor) {
        if (tensor.name().equals(SafetensorsHeader.METADATA_KEY))
            throw new IllegalArgumentException("'" + SafetensorsHeader.METADATA_KEY + "' is reserved and cannot name a tensor");
        if (!names.add(tensor.name())) throw new IllegalArgumentException("tensor " + tensor.name() + " added twice");
        tensors.add(tensor);
        return this;
    }

    public SafetensorsWriter add(String name, int[] shape, float[] values) {
        return add(TensorData.of(name, shape, values));
    }

    public SafetensorsWriter add(String name, int[] shape, MemorySegment data) {
        return add(TensorData.of(name, shape, data));
    }

    /** Adds every view of {@code buffer}, in layout order, named after the view (no copy). */
    public SafetensorsWriter addAll(ParameterBuffer buffer) {
        return addAll(buffer, "");
    }

    /** Adds every view of {@code buffer}, in layout order, named {@code prefix + view name} (no copy). */
    public SafetensorsWriter addAll(ParameterBuffer buffer, String prefix) {
        for (ParameterLayout.View v : buffer.layout().views()) {
            var mapped = buffer.mapped(v);
            if (mapped != null && mapped.format() != dev.patchwork.tensor.WeightFormat.F32)
                throw new IllegalArgumentException(v.name() + " is read in place as " + mapped.format()
                        + " from a checkpoint: load the model with --dtype f32 (WeightStorage.F32) to save it as float32");
            add(prefix + v.name(), v.shape(), buffer.slice(v));
        }
        return this;
    }

    /** Adds one {@code __metadata__} entry. */
    public SafetensorsWriter metadata(String key, String value) {
        if (key == null || value == null) throw new IllegalArgumentException("metadata keys and values must not be null");
        metadata.put(key, value);
        return this;
    }

    public SafetensorsWriter metadata(Map<String, String> entries) {
        entries.forEach(this::metadata);
        return this;
    }

    /** Writes the file atomically; an I/O failure is a {@link CheckpointException} naming the file. */
    public void write(Path file) {
        byte[] header = header();
        try {
            AtomicFiles.writeChannel(file, ch -> {
                ByteBuffer lengthAndHeader = ByteBuffer.allocate(Long.BYTES + header.length).order(ByteOrder.LITTLE_ENDIAN);
                lengthAndHeader.putLong(header.length).put(header).flip();
                writeFully(ch, lengthAndHeader);
                ByteBuffer staging = ByteBuffer.allocateDirect(CHUNK_BYTES);
                MemorySegment stagingSegment = MemorySegment.ofBuffer(staging); // made while the buffer is full-size
                for (TensorData t : tensors) writeSegment(ch, t.data(), staging, stagingSegment);
            });
        } catch (IOException e) {
            throw new CheckpointException(file, "cannot write: " + e.getMessage(), e);
        }
    }

    /** The JSON header, space-padded to a multiple of 8 bytes. */
    byte[] header() {
        List<SafetensorsHeader.Entry> entries = new ArrayList<>();
        for (TensorData t : tensors) entries.add(new SafetensorsHeader.Entry(t.name(), Dtype.F32, t.shape(), t.data().byteSize()));
        return SafetensorsHeader.encode(metadata, entries);
    }

    private static void writeSegment(FileChannel ch, MemorySegment data, ByteBuffer staging, MemorySegment stagingSegment)
            throws IOException {
        for (long pos = 0; pos < data.byteSize(); pos += CHUNK_BYTES) {
            int len = (int) Math.min(CHUNK_BYTES, data.byteSize() - pos);
            MemorySegment.copy(data, pos, stagingSegment, 0, len);
            writeFully(ch, staging.clear().limit(len));
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) ch.write(buf);
    }
}

package dev.patchwork.io;

import java.util.Map;
import java.util.ArrayList;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.List;

/**
 * Writes a safetensors file whose tensors are all zero without writing their bytes: the header, then the file length
 * set past the data, which the file system keeps as a hole (a sparse file). A checkpoint with a released model's
 * exact shapes (blt-1b: 9 GB in BF16) then costs a few kilobytes of disk and no time, for load benchmarks and tests
 * of tensors over 2^31 values.
 */
public final class SparseSafetensors {
    /** One tensor of the file. */
    public record Spec(String name, Dtype dtype, long[] shape) {
        long bytes() {
            long n = dtype.byteSize();
            for (long d : shape) n = Math.multiplyExact(n, d);
            return n;
        }
    }

    private SparseSafetensors() {}

    /** Creates {@code file} (replacing it) holding zero-valued {@code tensors} in list order; returns its length. */
    public static long create(Path file, List<Spec> tensors) {
        List<SafetensorsHeader.Entry> entries = new ArrayList<>();
        long offset = 0;
        for (Spec t : tensors) {
            entries.add(new SafetensorsHeader.Entry(t.name(), t.dtype(), t.shape(), t.bytes()));
            offset += t.bytes();
        }
        byte[] header = SafetensorsHeader.encode(Map.of(), entries);
        long length = Long.BYTES + header.length + offset;
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(0);
            f.write(ByteBuffer.allocate(Long.BYTES).order(ByteOrder.LITTLE_ENDIAN).putLong(header.length).array());
            f.write(header);
            f.setLength(length);
        } catch (IOException e) {
            throw new CheckpointException(file, "cannot write: " + e.getMessage(), e);
        }
        return length;
    }
}

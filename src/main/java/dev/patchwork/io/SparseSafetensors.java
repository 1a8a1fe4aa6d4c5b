package dev.patchwork.io;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Arrays;
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
        ObjectNode root = SafetensorsHeader.MAPPER.createObjectNode();
        long offset = 0;
        for (Spec t : tensors) {
            ObjectNode e = root.putObject(t.name());
            e.put("dtype", t.dtype().name());
            ArrayNode shape = e.putArray("shape");
            for (long d : t.shape()) shape.add(d);
            e.putArray("data_offsets").add(offset).add(offset + t.bytes());
            offset += t.bytes();
        }
        byte[] json;
        try {
            json = SafetensorsHeader.MAPPER.writeValueAsBytes(root);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialise a safetensors header", e);
        }
        byte[] header = Arrays.copyOf(json, (json.length + 7) / 8 * 8);
        Arrays.fill(header, json.length, header.length, (byte) ' ');
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

package dev.patchwork.io;

import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.tensor.ParameterLayout;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * One tensor of an open {@link SafetensorsFile}: its name, type, shape and its bytes as a read-only slice of the
 * mapped file (no copy). The slice is valid only while the file is open.
 */
public final class TensorEntry {
    private final Path file;
    private final String name;
    private final Dtype dtype;
    private final long[] shape;
    private final long elements;
    private final MemorySegment data;

    TensorEntry(Path file, String name, Dtype dtype, long[] shape, long elements, MemorySegment data) {
        this.file = file;
        this.name = name;
        this.dtype = dtype;
        this.shape = shape.clone();
        this.elements = elements;
        this.data = data;
    }

    public String name() {
        return name;
    }

    public Dtype dtype() {
        return dtype;
    }

    /** Dimensions, outermost first; empty for a scalar. */
    public long[] shape() {
        return shape.clone();
    }

    /** Number of elements (1 for a scalar, 0 if a dimension is 0). */
    public long elementCount() {
        return elements;
    }

    /** The raw little-endian bytes, {@code elementCount() * dtype().byteSize()} long. */
    public MemorySegment data() {
        return data;
    }

    /** Whether the shape equals {@code expected} dimension by dimension. */
    public boolean hasShape(int... expected) {
        if (expected.length != shape.length) return false;
        for (int i = 0; i < shape.length; i++) if (shape[i] != expected[i]) return false;
        return true;
    }

    /** The values converted to float32; for tensors small enough for an array. */
    public float[] toFloatArray() {
        requireFloatType();
        if (elements > Integer.MAX_VALUE - 8)
            throw new CheckpointException(file, "tensor " + name + " has " + elements
                    + " values, too many for a Java array; copy it into a MemorySegment instead");
        float[] out = new float[(int) elements];
        FloatDecoder.toArray(data, dtype, out);
        return out;
    }

    /** Converts the values to little-endian float32 and writes them at {@code dst[dstByteOffset..]}. */
    public void copyFloatsTo(MemorySegment dst, long dstByteOffset) {
        requireFloatType();
        if (dstByteOffset < 0 || dst.byteSize() - dstByteOffset < elements * Float.BYTES)
            throw new IllegalArgumentException("destination of " + dst.byteSize() + " bytes cannot hold " + elements
                    + " floats of tensor " + name + " at byte offset " + dstByteOffset);
        FloatDecoder.toSegment(data, dtype, dst, dstByteOffset, elements);
    }

    /** Converts the values into one view of a parameter buffer; the shapes must match exactly. */
    public void copyInto(ParameterBuffer buffer, ParameterLayout.View view) {
        String problem = mismatch(view);
        if (problem != null) throw new CheckpointException(file, problem);
        copyFloatsTo(buffer.segment(), buffer.offset(view) * Float.BYTES);
    }

    /** Why this tensor cannot be loaded into {@code view}, or null if it can. */
    String mismatch(ParameterLayout.View view) {
        if (!hasShape(view.shape()))
            return "tensor " + name + " has shape " + format(shape) + ", model expects "
                    + format(Arrays.stream(view.shape()).asLongStream().toArray());
        return dtype.convertsToFloat() ? null : notFloat();
    }

    private void requireFloatType() {
        if (!dtype.convertsToFloat()) throw new CheckpointException(file, notFloat());
    }

    private String notFloat() {
        return "tensor " + name + " has dtype " + dtype + ", which does not convert to floats (only F32, BF16 and F16 do)";
    }

    /** A shape as {@code [a,b]}. */
    static String format(long[] shape) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < shape.length; i++) sb.append(i == 0 ? "" : ",").append(shape[i]);
        return sb.append(']').toString();
    }

    @Override
    public String toString() {
        return name + " " + dtype + format(shape);
    }
}

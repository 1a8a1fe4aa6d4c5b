package dev.patchwork.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * One flat buffer of little-endian floats laid out by a {@link ParameterLayout}: the parameters of a model, or their
 * gradients, or an optimizer moment.
 *
 * <p>Storage is a {@link MemorySegment}, not a {@code float[]}: off-heap memory for training (no 2^31 limit, no GC
 * copying) and, for inference, a memory-mapped checkpoint file, so the same kernels read both.
 */
public final class ParameterBuffer {
    /** Little-endian float, the layout of every buffer and of safetensors files. */
    public static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final ParameterLayout layout;
    private final MemorySegment data;

    private ParameterBuffer(ParameterLayout layout, MemorySegment data) {
        this.layout = layout;
        this.data = data;
    }

    /** A zero-filled buffer in native memory, freed when unreachable. */
    public static ParameterBuffer allocate(ParameterLayout layout) {
        long bytes = layout.totalFloats() * Float.BYTES;
        MemorySegment seg = Arena.ofAuto().allocate(Math.max(bytes, 64), 64);
        return new ParameterBuffer(layout, seg); // Arena.allocate zero-fills
    }

    /** Wraps existing storage (e.g. a mapped file) that holds {@code layout.totalFloats()} floats. */
    public static ParameterBuffer wrap(ParameterLayout layout, MemorySegment data) {
        if (data.byteSize() < layout.totalFloats() * Float.BYTES)
            throw new IllegalArgumentException("storage of " + data.byteSize() + " bytes is smaller than the layout's "
                    + layout.totalFloats() * Float.BYTES);
        return new ParameterBuffer(layout, data);
    }

    public ParameterLayout layout() {
        return layout;
    }

    /** The whole buffer. */
    public MemorySegment segment() {
        return data;
    }

    /** Number of floats (padding included). */
    public long floats() {
        return layout.totalFloats();
    }

    public float get(long index) {
        return data.getAtIndex(F32, index);
    }

    public void set(long index, float value) {
        data.setAtIndex(F32, index, value);
    }

    public float get(ParameterLayout.View v, long i) {
        return data.getAtIndex(F32, v.offset() + i);
    }

    public void set(ParameterLayout.View v, long i, float value) {
        data.setAtIndex(F32, v.offset() + i, value);
    }

    /** The bytes of one view (a slice, no copy). */
    public MemorySegment slice(ParameterLayout.View v) {
        return data.asSlice(v.offset() * Float.BYTES, v.size() * Float.BYTES);
    }

    /** Copies a view's values into a new array (for tests and small tensors). */
    public float[] toArray(ParameterLayout.View v) {
        if (v.size() > Integer.MAX_VALUE - 8) throw new IllegalArgumentException(v.name() + " is too large for an array");
        float[] out = new float[(int) v.size()];
        MemorySegment.copy(data, F32, v.offset() * Float.BYTES, out, 0, out.length);
        return out;
    }

    /** Overwrites a view's values from an array of exactly its size. */
    public void fill(ParameterLayout.View v, float[] values) {
        if (values.length != v.size())
            throw new IllegalArgumentException(v.name() + " holds " + v.size() + " values, got " + values.length);
        MemorySegment.copy(values, 0, data, F32, v.offset() * Float.BYTES, values.length);
    }

    /** Sets every float to zero. */
    public void zero() {
        data.fill((byte) 0);
    }

    /** Copies all values from another buffer with the same layout. */
    public void copyFrom(ParameterBuffer other) {
        if (other.layout.totalFloats() != layout.totalFloats()) throw new IllegalArgumentException("layouts differ");
        MemorySegment.copy(other.data, 0, data, 0, layout.totalFloats() * Float.BYTES);
    }
}

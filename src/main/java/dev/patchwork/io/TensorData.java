package dev.patchwork.io;

import dev.patchwork.tensor.ParameterBuffer;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * A float32 tensor to write: a name, a row-major shape and {@code product(shape)} little-endian floats.
 *
 * @param data exactly {@code product(shape) * 4} bytes (e.g. a {@link ParameterBuffer#slice} or a mapped file)
 */
public record TensorData(String name, long[] shape, MemorySegment data) {
    public TensorData {
        if (name == null || name.isEmpty()) throw new IllegalArgumentException("a tensor needs a non-empty name");
        shape = shape.clone();
        long elements = 1;
        for (long d : shape) {
            if (d < 0) throw new IllegalArgumentException("tensor " + name + " has a negative dimension in " + Arrays.toString(shape));
            elements = Math.multiplyExact(elements, d);
        }
        if (data.byteSize() != elements * Float.BYTES)
            throw new IllegalArgumentException("tensor " + name + " of shape " + Arrays.toString(shape) + " needs "
                    + elements * Float.BYTES + " bytes of float32 data, got " + data.byteSize());
    }

    /** Wraps float32 little-endian bytes, e.g. one view of a parameter buffer. */
    public static TensorData of(String name, int[] shape, MemorySegment data) {
        return new TensorData(name, Arrays.stream(shape).asLongStream().toArray(), data);
    }

    /** Copies {@code values} into little-endian bytes (a {@code float[]} is in the machine's byte order). */
    public static TensorData of(String name, int[] shape, float[] values) {
        MemorySegment bytes = MemorySegment.ofArray(new byte[Math.multiplyExact(values.length, Float.BYTES)]);
        MemorySegment.copy(values, 0, bytes, ParameterBuffer.F32, 0, values.length);
        return of(name, shape, bytes);
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }
}

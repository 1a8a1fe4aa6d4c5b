package dev.patchwork.tensor;

import java.lang.foreign.MemorySegment;

/**
 * A parameter view whose values stay where a checkpoint stores them (a slice of a memory-mapped file) in their stored
 * {@link WeightFormat}, instead of being widened into the float32 {@link ParameterBuffer}: inference on a BF16 model
 * then needs its file's size in memory, not twice that.
 *
 * @param data exactly {@code values · format.byteSize()} bytes, row-major like the view; readable from any thread
 */
public record MappedWeight(MemorySegment data, WeightFormat format) {
    public MappedWeight {
        if (data.byteSize() % format.byteSize() != 0)
            throw new IllegalArgumentException("a " + format + " weight needs a multiple of " + format.byteSize()
                    + " bytes, got " + data.byteSize());
    }

    /** Number of values. */
    public long values() {
        return data.byteSize() / format.byteSize();
    }

    /** Value {@code index} as a float. */
    public float get(long index) {
        return format.get(data, index);
    }
}

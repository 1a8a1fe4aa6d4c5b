package dev.patchwork.io;

import java.lang.foreign.MemorySegment;

/**
 * How a PyTorch checkpoint lays out one tensor: {@code shape} and {@code stride} (in elements) over the storage
 * record {@code data/<storageKey>}, starting at element {@code storageOffset}. Element {@code (i0, i1, ...)} is at
 * element {@code storageOffset + Σ ik·stride[k]} of {@code storage}. {@link PthFile} has checked that every element
 * lies inside the storage. Most state dicts hold contiguous tensors, each alone in its storage at offset 0; the
 * general form matters for views (transposes, slices) and tensors sharing a storage.
 *
 * @param storage the storage's little-endian bytes, a slice of the mapped file (valid while the file is open)
 */
public record TorchTensor(String name, Dtype dtype, long[] shape, long[] stride, long storageOffset, String storageKey,
                          MemorySegment storage) {
    public TorchTensor {
        shape = shape.clone();
        stride = stride.clone();
    }

    @Override
    public long[] shape() {
        return shape.clone();
    }

    @Override
    public long[] stride() {
        return stride.clone();
    }

    /** Number of elements (1 for a scalar, 0 if a dimension is 0). */
    public long elementCount() {
        long n = 1;
        for (long d : shape) n *= d; // cannot overflow: checked when the file was opened
        return n;
    }

    /** Whether the elements are consecutive in row-major order, so the tensor is one slice of its storage. */
    public boolean isContiguous() {
        long expected = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            if (shape[i] != 1 && stride[i] != expected) return false; // a stride of a size-1 dimension is never used
            expected *= shape[i];
        }
        return true;
    }

    @Override
    public String toString() {
        return name + " " + dtype + TensorEntry.format(shape) + " stride " + TensorEntry.format(stride) + " at "
                + storageOffset + " of storage " + storageKey;
    }
}

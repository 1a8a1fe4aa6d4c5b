package dev.patchwork.tensor;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Function;

/**
 * One flat buffer of little-endian floats laid out by a {@link ParameterLayout}: the parameters of a model, or their
 * gradients, or an optimizer moment.
 *
 * <p>Storage is a {@link MemorySegment}, not a {@code float[]}: off-heap memory for training (no 2^31 limit, no GC
 * copying) and, for inference, a memory-mapped checkpoint file, so the same kernels read both.
 *
 * <p>For inference a buffer may also be {@link #mapped}: chosen views (the large matrices) then stay in the checkpoint
 * file in their stored format ({@link MappedWeight}, e.g. BF16) and the float storage holds only the other views,
 * packed. Layers read a view through {@link WeightOps} (which dispatches on {@link #mapped(ParameterLayout.View)}) or
 * at {@link #offset(ParameterLayout.View)} of {@link #segment()}; a plain buffer's offsets are the layout's, so
 * training code is unaffected.
 */
public final class ParameterBuffer {
    /** Little-endian float, the layout of every buffer and of safetensors files. */
    public static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final ParameterLayout layout;
    private final MemorySegment data;
    /** Views kept in a checkpoint file; empty for a plain buffer. */
    private final Map<ParameterLayout.View, MappedWeight> mapped;
    /** Float offsets of the other views in {@link #data} when they are packed; null when they are the layout's. */
    private final Map<ParameterLayout.View, Long> packedOffsets;

    private ParameterBuffer(ParameterLayout layout, MemorySegment data) {
        this(layout, data, Map.of(), null);
    }

    private ParameterBuffer(ParameterLayout layout, MemorySegment data, Map<ParameterLayout.View, MappedWeight> mapped,
                            Map<ParameterLayout.View, Long> packedOffsets) {
        this.layout = layout;
        this.data = data;
        this.mapped = mapped;
        this.packedOffsets = packedOffsets;
    }

    /** A zero-filled buffer in native memory, freed when unreachable. */
    public static ParameterBuffer allocate(ParameterLayout layout) {
        long bytes = layout.totalFloats() * Float.BYTES;
        MemorySegment seg = Arena.ofAuto().allocate(Math.max(bytes, 64), 64);
        return new ParameterBuffer(layout, seg); // Arena.allocate zero-fills
    }

    /**
     * The storage of a model built over existing parameters (e.g. loaded from a checkpoint): hands them out for the
     * layout the model builds, refusing a buffer whose views differ ({@code what}: the config's name, for the message).
     */
    public static Function<ParameterLayout, ParameterBuffer> reusing(ParameterBuffer params, String what) {
        return layout -> {
            if (!params.layout().views().equals(layout.views()))
                throw new IllegalArgumentException("parameter buffer does not match the " + what);
            return params;
        };
    }

    /** Wraps existing storage (e.g. a mapped file) that holds {@code layout.totalFloats()} floats. */
    public static ParameterBuffer wrap(ParameterLayout layout, MemorySegment data) {
        if (data.byteSize() < layout.totalFloats() * Float.BYTES)
            throw new IllegalArgumentException("storage of " + data.byteSize() + " bytes is smaller than the layout's "
                    + layout.totalFloats() * Float.BYTES);
        return new ParameterBuffer(layout, data);
    }

    /**
     * A read-only inference buffer: the views named in {@code weights} read their {@link MappedWeight} (no copy), the
     * others get zero-filled float storage packed one after another (64-byte aligned), to be filled with
     * {@link #fill} or at {@link #offset}. Each mapped weight must hold exactly its view's number of values.
     */
    public static ParameterBuffer mapped(ParameterLayout layout, Map<String, MappedWeight> weights) {
        Map<ParameterLayout.View, MappedWeight> m = new HashMap<>();
        Map<ParameterLayout.View, Long> offsets = new HashMap<>();
        long end = 0;
        for (ParameterLayout.View v : layout.views()) {
            MappedWeight w = weights.get(v.name());
            if (w == null) {
                offsets.put(v, end);
                end = (end + v.size() + ParameterLayout.ALIGN - 1) / ParameterLayout.ALIGN * ParameterLayout.ALIGN;
            } else if (w.values() != v.size()) {
                throw new IllegalArgumentException("mapped weight for " + v.name() + " holds " + w.values()
                        + " values, the view has " + v.size());
            } else m.put(v, w);
        }
        for (String name : weights.keySet()) layout.view(name); // an unknown name is a clear error
        MemorySegment seg = Arena.ofAuto().allocate(Math.max(end * Float.BYTES, 64), 64);
        return new ParameterBuffer(layout, seg, Map.copyOf(m), Map.copyOf(offsets));
    }

    /** The checkpoint-resident values of {@code v}, or null when {@code v} is in the float storage. */
    public MappedWeight mapped(ParameterLayout.View v) {
        return mapped.isEmpty() ? null : mapped.get(v);
    }

    /** Whether some views are kept in a checkpoint file (the buffer is then for inference only). */
    public boolean hasMappedViews() {
        return !mapped.isEmpty();
    }

    /**
     * Where {@code v} starts in {@link #segment()}, in floats: the layout's offset for a plain buffer. A mapped view
     * has none; asking is an error that says how to get a trainable model.
     */
    public long offset(ParameterLayout.View v) {
        if (packedOffsets == null) return v.offset();
        Long at = packedOffsets.get(v);
        if (at != null) return at;
        MappedWeight w = mapped.get(v);
        if (w == null) throw new IllegalArgumentException(v + " is not a view of this buffer's layout");
        throw new IllegalStateException(v.name() + " is read in place from the checkpoint (" + w.format()
                + "): this buffer is for inference only; load the model as float32 (--dtype f32) to train it");
    }

    /** Bytes of float storage this buffer owns (mapped views excluded). */
    public long floatStorageBytes() {
        return data.byteSize();
    }

    public ParameterLayout layout() {
        return layout;
    }

    /** The float storage: every view of a plain buffer; a mapped buffer's unmapped views, at {@link #offset}. */
    public MemorySegment segment() {
        return data;
    }

    /** Number of floats the layout spans (padding included); a mapped buffer stores fewer, see {@link #floatStorageBytes}. */
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
        MappedWeight w = mapped(v);
        return w != null ? w.get(i) : data.getAtIndex(F32, offset(v) + i);
    }

    public void set(ParameterLayout.View v, long i, float value) {
        data.setAtIndex(F32, offset(v) + i, value);
    }

    /** The bytes of one view (a slice, no copy): float32, or a mapped view's stored bytes in its own format. */
    public MemorySegment slice(ParameterLayout.View v) {
        MappedWeight w = mapped(v);
        return w != null ? w.data() : data.asSlice(offset(v) * Float.BYTES, v.size() * Float.BYTES);
    }

    /** Copies a view's values into a new array (for tests and small tensors), widened to float32. */
    public float[] toArray(ParameterLayout.View v) {
        if (v.size() > Integer.MAX_VALUE - 8) throw new IllegalArgumentException(v.name() + " is too large for an array");
        float[] out = new float[(int) v.size()];
        MappedWeight w = mapped(v);
        if (w != null) MappedGemv.widen(w, 0, out, 0, out.length);
        else MemorySegment.copy(data, F32, offset(v) * Float.BYTES, out, 0, out.length);
        return out;
    }

    /** Overwrites a view's values from an array of exactly its size. */
    public void fill(ParameterLayout.View v, float[] values) {
        if (values.length != v.size())
            throw new IllegalArgumentException(v.name() + " holds " + v.size() + " values, got " + values.length);
        MemorySegment.copy(values, 0, data, F32, offset(v) * Float.BYTES, values.length);
    }

    /**
     * Sets every float to zero, split across the team in large blocks (a gradient buffer is zeroed before every
     * training step: on one thread, 50 MB for the BLT-10m left the other core idle for a few milliseconds).
     */
    public void zero() {
        requirePlain("zero");
        long bytes = data.byteSize();
        int blocks = (int) Math.min(Integer.MAX_VALUE, (bytes + ZERO_BLOCK_BYTES - 1) / ZERO_BLOCK_BYTES);
        // a confined arena's segment is zeroed by its owner alone (the team's threads may not touch it)
        Parallel.forRange(blocks, Parallel.sharedAcrossThreads(data) ? Parallel.available() : 1, (b0, b1) -> {
            long from = b0 * ZERO_BLOCK_BYTES, to = Math.min(bytes, b1 * ZERO_BLOCK_BYTES);
            data.asSlice(from, to - from).fill((byte) 0);
        });
    }

    /** Bytes per block of {@link #zero}: below one block (a small model) the calling thread zeroes alone. */
    private static final long ZERO_BLOCK_BYTES = 1 << 20;

    /** Copies all values from another buffer with the same layout. */
    public void copyFrom(ParameterBuffer other) {
        requirePlain("copyFrom");
        other.requirePlain("copyFrom");
        if (other.layout.totalFloats() != layout.totalFloats()) throw new IllegalArgumentException("layouts differ");
        MemorySegment.copy(other.data, 0, data, 0, layout.totalFloats() * Float.BYTES);
    }

    private void requirePlain(String what) {
        if (packedOffsets != null)
            throw new IllegalStateException(what + " needs a plain float32 buffer, this one keeps views in a checkpoint file");
    }
}

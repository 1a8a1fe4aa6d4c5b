package dev.patchwork.tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Where every named parameter lives inside one flat float buffer (the llm.c layout).
 *
 * <p>Layers register their tensors while the model is built and keep the returned {@link View}; parameters,
 * gradients and optimizer moments are then {@link ParameterBuffer}s with this one layout, so zeroing, clipping, the
 * optimizer step and checkpointing are flat loops, and checkpoint names are the view names. Offsets are in floats and
 * aligned to 16 floats (64 bytes) so vector loads of a row start on a cache line, except for tensors added with
 * {@link Builder#addAdjacent}, which start exactly where the previous one ends: a layer uses that to fuse matrices
 * that share an input (wq|wk|wv, w1|w3) into one matrix multiply while keeping their checkpoint names.
 */
public final class ParameterLayout {
    /** Alignment of every view's offset, in floats. */
    public static final int ALIGN = 16;

    /** A named tensor of the buffer: {@code shape} is row-major, {@code offset} counts floats. */
    public record View(String name, long offset, int[] shape) {
        public View {
            shape = shape.clone();
        }

        /** Number of values. */
        public long size() {
            long n = 1;
            for (int d : shape) n *= d;
            return n;
        }

        /** Rows of a matrix ({@code shape[0]}), or 1 for a vector. */
        public int rows() {
            return shape.length >= 2 ? shape[0] : 1;
        }

        /** Values per row (the last dimension). */
        public int cols() {
            return shape[shape.length - 1];
        }

        /** Matrices get weight decay; vectors (norm weights) do not. */
        public boolean isMatrix() {
            return shape.length >= 2;
        }

        @Override
        public int[] shape() {
            return shape.clone();
        }

        @Override
        public String toString() {
            return name + Arrays.toString(shape) + "@" + offset;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof View v && v.name.equals(name) && v.offset == offset && Arrays.equals(v.shape, shape);
        }

        @Override
        public int hashCode() {
            return name.hashCode() * 31 + Long.hashCode(offset);
        }
    }

    private final List<View> views;
    private final Map<String, View> byName;
    private final long totalFloats;

    private ParameterLayout(List<View> views, long totalFloats) {
        this.views = Collections.unmodifiableList(new ArrayList<>(views));
        Map<String, View> m = new LinkedHashMap<>();
        for (View v : views) m.put(v.name(), v);
        this.byName = Collections.unmodifiableMap(m);
        this.totalFloats = totalFloats;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Views in registration order. */
    public List<View> views() {
        return views;
    }

    /** The view called {@code name}; throws with the known names when it does not exist. */
    public View view(String name) {
        View v = byName.get(name);
        if (v == null) throw new IllegalArgumentException("no parameter named '" + name + "' (model has " + views.size() + " tensors)");
        return v;
    }

    public boolean contains(String name) {
        return byName.containsKey(name);
    }

    /** Floats the buffer holds, padding included. */
    public long totalFloats() {
        return totalFloats;
    }

    /** Number of parameter values (padding excluded). */
    public long parameterCount() {
        long n = 0;
        for (View v : views) n += v.size();
        return n;
    }

    /** Registers tensors in order; each offset is aligned to {@link #ALIGN} floats. */
    public static final class Builder {
        private final List<View> views = new ArrayList<>();
        private final Map<String, View> names = new LinkedHashMap<>();
        private long end; // first float after the last view

        /** Adds a tensor at the next 64-byte-aligned offset. */
        public View add(String name, int... shape) {
            return place(name, (end + ALIGN - 1) / ALIGN * ALIGN, shape);
        }

        /** Adds a tensor that starts exactly where the previously added one ends (no padding in between). */
        public View addAdjacent(String name, int... shape) {
            return place(name, end, shape);
        }

        private View place(String name, long offset, int[] shape) {
            if (names.containsKey(name)) throw new IllegalArgumentException("parameter registered twice: " + name);
            for (int d : shape) if (d <= 0) throw new IllegalArgumentException("parameter " + name + " has a non-positive dimension " + Arrays.toString(shape));
            View v = new View(name, offset, shape);
            views.add(v);
            names.put(name, v);
            end = offset + v.size();
            return v;
        }

        public ParameterLayout build() {
            return new ParameterLayout(views, (end + ALIGN - 1) / ALIGN * ALIGN);
        }
    }
}

package dev.patchwork.io;

import dev.patchwork.tensor.ParameterLayout;
import dev.patchwork.tensor.WeightFormat;

import java.util.Locale;

/**
 * Where an inference model's weights live once loaded (the {@code --dtype} option of eval, patch, generate, serve).
 * Only matrices (projections, embedding and hash tables: nearly all of the values) are ever left in the file; norm
 * weights are always widened, they are tiny and read on every row.
 */
public enum WeightStorage {
    /** Widen everything into one float32 buffer: trainable, and the fastest for F32 checkpoints. */
    F32,
    /** Leave BF16 and F16 matrices mapped in their stored type; widen F32 files (the same as {@link #F32} for them). */
    AUTO,
    /** Leave every float matrix mapped in its stored type, F32 included (least resident memory). */
    MAPPED;

    /** Whether a tensor of type {@code dtype} for {@code view} stays in the file. */
    public boolean keepsMapped(Dtype dtype, ParameterLayout.View view) {
        if (!view.isMatrix() || !dtype.convertsToFloat()) return false;
        return switch (this) {
            case F32 -> false;
            case AUTO -> dtype != Dtype.F32;
            case MAPPED -> true;
        };
    }

    /** The kernels' name for a float type of the file. */
    static WeightFormat format(Dtype dtype) {
        return switch (dtype) {
            case F32 -> WeightFormat.F32;
            case BF16 -> WeightFormat.BF16;
            case F16 -> WeightFormat.F16;
            default -> throw new IllegalArgumentException(dtype + " is not a float type");
        };
    }

    /** Parses {@code auto}, {@code f32} or {@code mapped} (any case), with a one-line error otherwise. */
    public static WeightStorage parse(String text) {
        for (WeightStorage s : values()) if (s.name().equalsIgnoreCase(text.trim())) return s;
        throw new IllegalArgumentException("--dtype must be auto, f32 or mapped, got '" + text + "'");
    }

    public String optionName() {
        return name().toLowerCase(Locale.ROOT);
    }
}

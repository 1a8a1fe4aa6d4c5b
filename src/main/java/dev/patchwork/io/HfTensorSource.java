package dev.patchwork.io;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The tensors of a Hugging Face layout safetensors file under their reference names ({@link HfNames}), so that a
 * model loads from it exactly as from the reference layout. Either the BLT's tensors (the fused hash table shown as
 * its {@code tables} reference tables, each a slice of the mapping: nothing is copied) or the entropy model's
 * ({@code model.patcher.*}). Tensors of the other model are left out.
 */
public final class HfTensorSource implements TensorSource {
    private final Path path;
    private final List<TensorEntry> tensors;
    private final Map<String, TensorEntry> byName;

    private HfTensorSource(Path path, List<TensorEntry> tensors) {
        this.path = path;
        this.tensors = List.copyOf(tensors);
        Map<String, TensorEntry> m = new LinkedHashMap<>();
        for (TensorEntry t : tensors) m.put(t.name(), t);
        this.byName = Collections.unmodifiableMap(m);
    }

    /** The BLT's tensors of {@code file}, the fused hash table split into {@code tables} equal tables. */
    public static HfTensorSource blt(TensorSource file, int tables) {
        List<TensorEntry> out = new ArrayList<>();
        for (TensorEntry t : file.tensors()) {
            String n = t.name();
            if (n.startsWith(HfNames.PATCHER_PREFIX)) continue;
            if (n.equals(HfNames.FUSED_HASH_TABLE)) out.addAll(split(file.path(), t, tables));
            else if (n.equals(HfNames.LM_HEAD) || n.startsWith(HfNames.MODEL_PREFIX)) out.add(renamed(file.path(), t, HfNames.bltFromHf(n)));
            else throw new CheckpointException(file.path(), "tensor " + n + " is not in the Hugging Face BLT layout (expected "
                    + HfNames.MODEL_PREFIX + "... or " + HfNames.LM_HEAD + ")");
        }
        return new HfTensorSource(file.path(), out);
    }

    /** The entropy model's tensors ({@code model.patcher.*}) of {@code file}, under reference names. */
    public static HfTensorSource entropy(TensorSource file) {
        List<TensorEntry> out = new ArrayList<>();
        for (TensorEntry t : file.tensors())
            if (t.name().startsWith(HfNames.PATCHER_PREFIX)) out.add(renamed(file.path(), t, HfNames.entropyFromHf(t.name())));
        return new HfTensorSource(file.path(), out);
    }

    private static TensorEntry renamed(Path file, TensorEntry t, String name) {
        return new TensorEntry(file, name, t.dtype(), t.shape(), t.elementCount(), t.data());
    }

    /** Slices of the fused table, one per reference table (long arithmetic: the table can exceed 2^31 values). */
    private static List<TensorEntry> split(Path file, TensorEntry fused, int tables) {
        long[] shape = fused.shape();
        if (shape.length != 2 || tables < 1 || shape[0] % tables != 0)
            throw new CheckpointException(file, "tensor " + fused.name() + " has shape " + TensorEntry.format(shape)
                    + ", which is not " + tables + " hash tables of equal rows stacked (the config's nb_functions × byte group sizes)");
        long rows = shape[0] / tables;
        long bytes = rows * shape[1] * fused.dtype().byteSize();
        List<TensorEntry> out = new ArrayList<>(tables);
        for (int i = 0; i < tables; i++)
            out.add(new TensorEntry(file, HfNames.hashTable(i), fused.dtype(), new long[]{rows, shape[1]}, rows * shape[1],
                    fused.data().asSlice(i * bytes, bytes)));
        return out;
    }

    @Override
    public Map<String, TensorEntry> byName() {
        return byName;
    }

    @Override
    public Path path() {
        return path;
    }

    @Override
    public List<TensorEntry> tensors() {
        return tensors;
    }

}

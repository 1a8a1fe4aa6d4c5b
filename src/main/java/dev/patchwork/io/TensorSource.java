package dev.patchwork.io;

import dev.patchwork.tensor.MappedWeight;
import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.tensor.ParameterLayout;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Named tensors read from one file, whatever its format: a safetensors file ({@link SafetensorsFile}) or the state
 * dict of a PyTorch checkpoint ({@link PthFile}). Model loading is written against this interface so that every
 * format loads the same way, with the same checks and messages.
 */
public interface TensorSource {
    /** The file the tensors come from (named in every error). */
    Path path();

    /** All tensors, in the file's order. */
    List<TensorEntry> tensors();

    /** The tensors by name, in the file's order. */
    Map<String, TensorEntry> byName();

    /** Tensor names, in the file's order. */
    default Set<String> names() {
        return byName().keySet();
    }

    default boolean contains(String name) {
        return byName().containsKey(name);
    }

    /** The tensor called {@code name}; a missing one is a {@link CheckpointException}. */
    default TensorEntry tensor(String name) {
        TensorEntry t = byName().get(name);
        if (t == null) throw new CheckpointException(path(), "no tensor named " + name + " (the file has " + byName().size() + " tensors)");
        return t;
    }

    /** The values of one tensor converted to float32. */
    default float[] readFloats(String name) {
        return tensor(name).toFloatArray();
    }

    /** Loads every view of {@code buffer} from the tensor of the same name; see {@link #loadInto(ParameterBuffer, String)}. */
    default void loadInto(ParameterBuffer buffer) {
        loadInto(buffer, "");
    }

    /**
     * Loads every view {@code v} of {@code buffer} from the tensor named {@code prefix + v.name()}, converting BF16/F16
     * to float32. Everything is checked before anything is copied: tensors the model needs but the file lacks,
     * tensors with {@code prefix} the model does not know, wrong shapes and non-float types are reported by name,
     * and the buffer is left untouched. Tensors without the prefix are ignored (another buffer's).
     */
    default void loadInto(ParameterBuffer buffer, String prefix) {
        requireMatch(buffer.layout(), prefix);
        List<ParameterLayout.View> views = buffer.layout().views();
        for (ParameterLayout.View v : views) tensor(prefix + v.name()).copyInto(buffer, v);
    }

    /**
     * The parameters for {@code layout} from the tensors named {@code prefix + view name}, checked as
     * {@link #loadInto(ParameterBuffer, String)} checks them: matrices that {@code storage} keeps mapped are read in
     * place from this file in their stored type (the file must then stay open, e.g. mapped in an automatic arena,
     * as long as the buffer is used), everything else is widened into float32. With nothing kept mapped the result
     * is a plain float32 buffer.
     */
    default ParameterBuffer load(ParameterLayout layout, String prefix, WeightStorage storage) {
        requireMatch(layout, prefix);
        Map<String, MappedWeight> mapped = new HashMap<>();
        for (ParameterLayout.View v : layout.views()) {
            TensorEntry t = tensor(prefix + v.name());
            if (storage.keepsMapped(t.dtype(), v)) mapped.put(v.name(), new MappedWeight(t.data(), WeightStorage.format(t.dtype())));
        }
        ParameterBuffer buffer = mapped.isEmpty() ? ParameterBuffer.allocate(layout) : ParameterBuffer.mapped(layout, mapped);
        for (ParameterLayout.View v : layout.views())
            if (buffer.mapped(v) == null) tensor(prefix + v.name()).copyInto(buffer, v);
        return buffer;
    }

    /**
     * Checks that the tensors under {@code prefix} are exactly the layout's views with the right shapes and float
     * types; reports missing, unexpected and mismatched tensors by name.
     */
    private void requireMatch(ParameterLayout layout, String prefix) {
        List<ParameterLayout.View> views = layout.views();
        List<String> missing = new ArrayList<>();
        Set<String> expected = new HashSet<>();
        for (ParameterLayout.View v : views) {
            String name = prefix + v.name();
            expected.add(name);
            if (!contains(name)) missing.add(name);
        }
        List<String> unexpected = new ArrayList<>();
        for (TensorEntry t : tensors())
            if (t.name().startsWith(prefix) && !expected.contains(t.name())) unexpected.add(t.name());
        if (!missing.isEmpty() || !unexpected.isEmpty()) {
            StringBuilder sb = new StringBuilder("tensors do not match the model:");
            if (!missing.isEmpty()) sb.append(" missing ").append(TensorNames.list(missing));
            if (!missing.isEmpty() && !unexpected.isEmpty()) sb.append(';');
            if (!unexpected.isEmpty()) sb.append(" unexpected ").append(TensorNames.list(unexpected));
            throw new CheckpointException(path(), sb.toString());
        }
        List<String> wrong = new ArrayList<>();
        for (ParameterLayout.View v : views) {
            String problem = tensor(prefix + v.name()).mismatch(v);
            if (problem != null) wrong.add(problem);
        }
        if (!wrong.isEmpty())
            throw new CheckpointException(path(), wrong.getFirst()
                    + (wrong.size() > 1 ? " (and " + (wrong.size() - 1) + " more mismatched tensors)" : ""));
    }
}

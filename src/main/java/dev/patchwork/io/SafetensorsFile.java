package dev.patchwork.io;

import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.tensor.ParameterLayout;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A safetensors file mapped into memory, with its header validated. Tensors are slices of the mapping, so opening
 * costs only the header, files larger than 2 GB work (segments, not ByteBuffers), and inference can read weights in
 * place. Close it to unmap; slices must not be used afterwards.
 *
 * <p>Every problem with the file (missing, truncated, corrupt header, tensors not matching the model) is a
 * {@link CheckpointException} whose message names the file.
 */
public final class SafetensorsFile implements AutoCloseable {
    private static final int MAX_NAMES_IN_MESSAGE = 8;

    private final Path path;
    private final Arena ownedArena; // null when the caller owns the arena
    private final List<TensorEntry> tensors;
    private final Map<String, TensorEntry> byName;
    private final Map<String, String> metadata;

    private SafetensorsFile(Path path, Arena ownedArena, SafetensorsHeader.Parsed parsed) {
        this.path = path;
        this.ownedArena = ownedArena;
        this.tensors = parsed.tensors();
        this.metadata = parsed.metadata();
        Map<String, TensorEntry> m = new LinkedHashMap<>();
        for (TensorEntry t : tensors) m.put(t.name(), t);
        this.byName = m;
    }

    /** Maps {@code path} into a shared arena (slices readable from any thread) that {@link #close()} releases. */
    public static SafetensorsFile open(Path path) {
        Arena arena = Arena.ofShared();
        try {
            return new SafetensorsFile(path, arena, SafetensorsHeader.parse(path, map(path, arena)));
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /**
     * Maps {@code path} into the caller's arena, e.g. {@link Arena#ofAuto()} or {@link Arena#global()} for weights
     * used for the life of a server; {@link #close()} then leaves the mapping alone.
     */
    public static SafetensorsFile open(Path path, Arena arena) {
        return new SafetensorsFile(path, null, SafetensorsHeader.parse(path, map(path, arena)));
    }

    private static MemorySegment map(Path path, Arena arena) {
        if (Files.isDirectory(path)) throw new CheckpointException(path, "is a directory, not a safetensors file");
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            // Mapping zero bytes is not portable; parse() reports such a file as too short.
            return size == 0 ? MemorySegment.ofArray(new byte[0]) : ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
        } catch (NoSuchFileException e) {
            throw new CheckpointException(path, "file not found", e);
        } catch (IOException e) {
            throw new CheckpointException(path, "cannot read: " + e.getMessage(), e);
        }
    }

    public Path path() {
        return path;
    }

    /** All tensors, in the order of their data in the file. */
    public List<TensorEntry> tensors() {
        return tensors;
    }

    /** Tensor names, in the order of their data in the file. */
    public Set<String> names() {
        return byName.keySet();
    }

    public boolean contains(String name) {
        return byName.containsKey(name);
    }

    /** The tensor called {@code name}; a missing one is a {@link CheckpointException}. */
    public TensorEntry tensor(String name) {
        TensorEntry t = byName.get(name);
        if (t == null) throw new CheckpointException(path, "no tensor named " + name + " (the file has " + tensors.size() + " tensors)");
        return t;
    }

    /** The {@code __metadata__} map (empty if the file has none). */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** The values of one tensor converted to float32. */
    public float[] readFloats(String name) {
        return tensor(name).toFloatArray();
    }

    /** Loads every view of {@code buffer} from the tensor of the same name; see {@link #loadInto(ParameterBuffer, String)}. */
    public void loadInto(ParameterBuffer buffer) {
        loadInto(buffer, "");
    }

    /**
     * Loads every view {@code v} of {@code buffer} from the tensor named {@code prefix + v.name()}, converting BF16/F16
     * to float32. Everything is checked before anything is copied: tensors the model needs but the file lacks,
     * tensors with {@code prefix} the model does not know, wrong shapes and non-float types are reported by name,
     * and the buffer is left untouched. Tensors without the prefix are ignored (another buffer's).
     */
    public void loadInto(ParameterBuffer buffer, String prefix) {
        List<ParameterLayout.View> views = buffer.layout().views();
        List<String> missing = new ArrayList<>();
        Set<String> expected = new HashSet<>();
        for (ParameterLayout.View v : views) {
            String name = prefix + v.name();
            expected.add(name);
            if (!byName.containsKey(name)) missing.add(name);
        }
        List<String> unexpected = new ArrayList<>();
        for (TensorEntry t : tensors)
            if (t.name().startsWith(prefix) && !expected.contains(t.name())) unexpected.add(t.name());
        if (!missing.isEmpty() || !unexpected.isEmpty()) {
            StringBuilder sb = new StringBuilder("tensors do not match the model:");
            if (!missing.isEmpty()) sb.append(" missing ").append(names(missing));
            if (!missing.isEmpty() && !unexpected.isEmpty()) sb.append(';');
            if (!unexpected.isEmpty()) sb.append(" unexpected ").append(names(unexpected));
            throw new CheckpointException(path, sb.toString());
        }
        List<String> wrong = new ArrayList<>();
        for (ParameterLayout.View v : views) {
            String problem = byName.get(prefix + v.name()).mismatch(v);
            if (problem != null) wrong.add(problem);
        }
        if (!wrong.isEmpty())
            throw new CheckpointException(path, wrong.getFirst()
                    + (wrong.size() > 1 ? " (and " + (wrong.size() - 1) + " more mismatched tensors)" : ""));
        for (ParameterLayout.View v : views) byName.get(prefix + v.name()).copyInto(buffer, v);
    }

    /** {@code 2 tensors (a, b)}, listing at most a few names so the message stays one readable line. */
    private static String names(List<String> names) {
        StringBuilder sb = new StringBuilder().append(names.size()).append(names.size() == 1 ? " tensor (" : " tensors (");
        for (int i = 0; i < Math.min(names.size(), MAX_NAMES_IN_MESSAGE); i++) sb.append(i == 0 ? "" : ", ").append(names.get(i));
        if (names.size() > MAX_NAMES_IN_MESSAGE) sb.append(", ... ").append(names.size() - MAX_NAMES_IN_MESSAGE).append(" more");
        return sb.append(')').toString();
    }

    /** Unmaps the file if this object owns the arena. */
    @Override
    public void close() {
        if (ownedArena != null) ownedArena.close();
    }
}

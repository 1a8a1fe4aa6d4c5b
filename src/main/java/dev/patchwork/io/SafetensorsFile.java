package dev.patchwork.io;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
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
public final class SafetensorsFile implements TensorSource, AutoCloseable {
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
        this.byName = java.util.Collections.unmodifiableMap(m);
    }

    /** Maps {@code path} into a shared arena (slices readable from any thread) that {@link #close()} releases. */
    public static SafetensorsFile open(Path path) {
        Arena arena = Arena.ofShared();
        try {
            return new SafetensorsFile(path, arena, SafetensorsHeader.parse(path, map(path, arena, "a safetensors file")));
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
        return new SafetensorsFile(path, null, SafetensorsHeader.parse(path, map(path, arena, "a safetensors file")));
    }

    /** Maps the whole of {@code path} read-only; {@code kind} ("a safetensors file") names what it should be. */
    static MemorySegment map(Path path, Arena arena, String kind) {
        if (Files.isDirectory(path)) throw new CheckpointException(path, "is a directory, not " + kind);
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            // Mapping zero bytes is not portable; the parsers report such a file as too short.
            return size == 0 ? MemorySegment.ofArray(new byte[0]) : ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
        } catch (NoSuchFileException e) {
            throw new CheckpointException(path, "file not found", e);
        } catch (IOException e) {
            throw new CheckpointException(path, "cannot read: " + e.getMessage(), e);
        }
    }

    @Override
    public Map<String, TensorEntry> byName() {
        return byName;
    }

    @Override
    public Path path() {
        return path;
    }

    /** All tensors, in the order of their data in the file. */
    @Override
    public List<TensorEntry> tensors() {
        return tensors;
    }

    /** The {@code __metadata__} map (empty if the file has none). */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** Unmaps the file if this object owns the arena. */
    @Override
    public void close() {
        if (ownedArena != null) ownedArena.close();
    }
}

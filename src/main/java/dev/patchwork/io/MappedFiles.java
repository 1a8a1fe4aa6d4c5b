package dev.patchwork.io;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** Whole files mapped read-only: the caches (entropies, patches) that are written once and then only read. */
public final class MappedFiles {
    private MappedFiles() {}

    /**
     * Maps all of {@code file} read-only into {@code arena}, which the caller then owns; when mapping fails the arena
     * is closed and the error names {@code what} (e.g. "the entropy cache").
     */
    public static MemorySegment readOnly(Path file, Arena arena, String what) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            return ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
        } catch (IOException e) {
            arena.close();
            throw new UncheckedIOException("mapping " + what + " " + file + ": " + e, e);
        }
    }
}

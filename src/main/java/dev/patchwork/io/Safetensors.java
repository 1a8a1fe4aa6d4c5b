package dev.patchwork.io;

import dev.patchwork.tensor.ParameterBuffer;

import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Entry point for the safetensors format (the Hugging Face tensor file: 8-byte little-endian header length, JSON
 * header, raw data). Reading maps the file and validates the header ({@link SafetensorsFile}); writing goes through
 * {@link SafetensorsWriter}, atomically.
 */
public final class Safetensors {
    private Safetensors() {}

    /** Maps and validates {@code file}; close the result to unmap it. */
    public static SafetensorsFile open(Path file) {
        return SafetensorsFile.open(file);
    }

    /** Maps and validates {@code file} into the caller's arena (the mapping lives as long as the arena). */
    public static SafetensorsFile open(Path file, Arena arena) {
        return SafetensorsFile.open(file, arena);
    }

    /** A writer to add tensors and metadata to. */
    public static SafetensorsWriter writer() {
        return new SafetensorsWriter();
    }

    /** Writes every view of {@code params} (layout order, view names) as F32, with optional metadata. */
    public static void write(Path file, ParameterBuffer params, Map<String, String> metadata) {
        new SafetensorsWriter().addAll(params).metadata(metadata).write(file);
    }

    /** Writes the given F32 tensors in list order, with optional metadata. */
    public static void write(Path file, List<TensorData> tensors, Map<String, String> metadata) {
        SafetensorsWriter w = new SafetensorsWriter().metadata(metadata);
        tensors.forEach(w::add);
        w.write(file);
    }
}

package dev.patchwork.model;

import com.fasterxml.jackson.databind.JsonNode;
import dev.patchwork.io.Checkpoint;
import dev.patchwork.util.Json;

import java.nio.file.Path;

/**
 * Which kind of model a directory or a config holds, decided in one place: a config with {@code dim_global} (a
 * {@code ByteLatentTransformerArgs} field the byte LM's {@code LMTransformerArgs} does not have) is a BLT, any other is
 * a byte LM. Both the bare form and the reference hub form {@code {"args": {...}}} are recognised.
 */
public final class ModelDirectory {
    /** The model kinds Patchwork trains and evaluates. */
    public enum Kind { BYTE_LM, BLT }

    private ModelDirectory() {}

    /** The checkpoint directory {@code dir} names: itself, or a run's {@code checkpoint/}. */
    public static Path resolve(Path dir) {
        return ByteLmCheckpoint.resolve(dir);
    }

    /** The kind of the model in {@code dir} (a run directory or a checkpoint directory), from its config.json. */
    public static Kind kindOf(Path dir) {
        Path config = resolve(dir).resolve(Checkpoint.CONFIG_FILE);
        return kindOf(Json.readTree(config));
    }

    /** The kind a model config describes (bare, or {@code {"args": {...}}}). */
    public static Kind kindOf(JsonNode config) {
        JsonNode args = config.has("args") && config.size() == 1 ? config.get("args") : config;
        return args.has("dim_global") ? Kind.BLT : Kind.BYTE_LM;
    }
}

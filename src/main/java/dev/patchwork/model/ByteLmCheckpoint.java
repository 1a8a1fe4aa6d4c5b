package dev.patchwork.model;

import dev.patchwork.io.CheckpointException;
import dev.patchwork.io.Safetensors;
import dev.patchwork.io.SafetensorsFile;
import dev.patchwork.util.PatchworkException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * A byte LM on disk: {@code config.json} ({@code {"args": ...}}, the reference hub form) and {@code model.safetensors}
 * (reference tensor names). This is the layout of a Patchwork run directory and of the reference's released entropy
 * model, so both load the same way.
 */
public final class ByteLmCheckpoint {
    public static final String CONFIG = "config.json";
    public static final String WEIGHTS = "model.safetensors";

    private ByteLmCheckpoint() {}

    /** Loads a model; every problem (missing files, bad config, wrong or missing tensors) is a one-line error. */
    public static ByteLm load(Path dir) {
        if (!Files.isDirectory(dir)) throw new PatchworkException("model directory not found: " + dir);
        Path config = dir.resolve(CONFIG), weights = dir.resolve(WEIGHTS);
        if (!Files.isRegularFile(config))
            throw new PatchworkException(dir + " has no " + CONFIG + ": is it a Patchwork run or a reference model directory?");
        if (!Files.isRegularFile(weights))
            throw new PatchworkException(dir + " has no " + WEIGHTS + " (a run saves it at its first checkpoint)");
        ByteLmConfig cfg = ByteLmConfig.read(config);
        ByteLm model = ByteLm.uninitialised(cfg);
        try (SafetensorsFile f = Safetensors.open(weights)) {
            f.loadInto(model.parameters());
        } catch (CheckpointException e) {
            throw new PatchworkException(e.getMessage(), e);
        }
        return model;
    }

    /** Writes config and weights into {@code dir} (each file atomically). */
    public static void save(Path dir, ByteLm model, Map<String, String> metadata) throws IOException {
        Files.createDirectories(dir);
        dev.patchwork.io.AtomicFiles.writeString(dir.resolve(CONFIG), model.config().toJson());
        Safetensors.write(dir.resolve(WEIGHTS), model.parameters(), metadata);
    }
}

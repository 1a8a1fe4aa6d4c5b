package dev.patchwork.model;

import dev.patchwork.io.Checkpoint;
import dev.patchwork.util.Json;
import dev.patchwork.util.PatchworkException;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Finds and loads a byte LM on disk: a directory with {@code config.json} ({@code {"args": ...}}, the reference hub
 * form) and {@code model.safetensors} (reference tensor names). That is the layout of the reference's released entropy
 * model and of a Patchwork checkpoint; a Patchwork run directory keeps its latest checkpoint in {@code checkpoint/},
 * so {@code --model RUN} works too.
 */
public final class ByteLmCheckpoint {
    /** Subdirectory of a run that holds its latest checkpoint. */
    public static final String RUN_CHECKPOINT = "checkpoint";

    private ByteLmCheckpoint() {}

    /** The checkpoint directory {@code dir} names: itself, or a run's {@code checkpoint/}. */
    public static Path resolve(Path dir) {
        if (!Files.isDirectory(dir)) throw new PatchworkException("model directory not found: " + dir);
        if (Files.exists(dir.resolve(Checkpoint.CONFIG_FILE))) return dir;
        Path inRun = dir.resolve(RUN_CHECKPOINT);
        if (Files.exists(inRun.resolve(Checkpoint.CONFIG_FILE))) return inRun;
        throw new PatchworkException(dir + " has no config.json (nor " + RUN_CHECKPOINT
                + "/config.json): is it a Patchwork run or a reference model directory? A run has one after its first checkpoint");
    }

    /** Loads a model; every problem (missing files, bad config, wrong or missing tensors) is a one-line error. */
    public static ByteLm load(Path dir) {
        Path ckpt = resolve(dir);
        ByteLmConfig cfg = ByteLmConfig.fromJson(Json.readTree(ckpt.resolve(Checkpoint.CONFIG_FILE)),
                ckpt.resolve(Checkpoint.CONFIG_FILE).toString());
        ByteLm model = ByteLm.uninitialised(cfg);
        Checkpoint.loadModel(ckpt, model.parameters());
        return model;
    }
}

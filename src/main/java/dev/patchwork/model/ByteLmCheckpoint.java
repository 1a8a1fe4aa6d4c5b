package dev.patchwork.model;

import dev.patchwork.util.PatchworkException;

import java.nio.file.Files;
import dev.patchwork.io.WeightStorage;

import java.nio.file.Path;

/**
 * Finds and loads a byte LM on disk: a directory with {@code config.json} ({@code {"args": ...}}, the reference hub
 * form) and {@code model.safetensors} (reference tensor names). That is the layout of the reference's released entropy
 * model and of a Patchwork checkpoint; a Patchwork run directory keeps its latest checkpoint in {@code checkpoint/},
 * so {@code --model RUN} works too. The reference's consolidated layout ({@code params.json} + {@code consolidated.pth}
 * of an entropy-model run) loads as well, see {@link ModelDirectory}.
 */
public final class ByteLmCheckpoint {
    /** Subdirectory of a run that holds its latest checkpoint. */
    public static final String RUN_CHECKPOINT = "checkpoint";

    private ByteLmCheckpoint() {}

    /** The checkpoint directory {@code dir} names: itself, or a run's {@code checkpoint/}. */
    public static Path resolve(Path dir) {
        if (!Files.isDirectory(dir)) throw new PatchworkException("model directory not found: " + dir);
        if (ModelDirectory.holdsModel(dir)) return dir;
        Path inRun = dir.resolve(RUN_CHECKPOINT);
        if (ModelDirectory.holdsModel(inRun)) return inRun;
        throw new PatchworkException(dir + " has no config.json (nor " + RUN_CHECKPOINT + "/config.json, nor params.json + "
                + "consolidated.pth): is it a Patchwork run or a reference model directory? A run has one after its first checkpoint");
    }

    /** Loads a model; every problem (missing files, bad config, wrong or missing tensors) is a one-line error. */
    public static ByteLm load(Path dir) {
        return load(dir, WeightStorage.F32);
    }

    /** Loads a model with its weights stored as {@code storage} says (mapped ones: inference only). */
    public static ByteLm load(Path dir, WeightStorage storage) {
        Path ckpt = resolve(dir);
        // An HF-layout BLT keeps its entropy model inside (model.patcher.*): that is the byte LM it holds.
        if (HfLayout.isHf(ckpt)) return HfLayout.loadEntropyModel(ckpt, storage);
        ByteLmConfig cfg = ByteLmConfig.fromJson(ModelDirectory.readConfig(ckpt), ModelDirectory.configName(ckpt));
        if (storage != WeightStorage.F32)
            return ByteLm.withParameters(cfg, ModelDirectory.loadWeights(ckpt, ByteLm.layoutOf(cfg), storage));
        ByteLm model = ByteLm.uninitialised(cfg);
        ModelDirectory.loadWeights(ckpt, model.parameters());
        return model;
    }
}

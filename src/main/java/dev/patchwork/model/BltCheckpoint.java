package dev.patchwork.model;

import dev.patchwork.io.WeightStorage;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.patchwork.io.ConsolidatedCheckpoint;
import dev.patchwork.util.Json;
import dev.patchwork.util.PatchworkException;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * A BLT on disk, in the reference's hub layout (which a Patchwork BLT run's {@code checkpoint/} also has):
 * <pre>
 *   config.json        {"args": ByteLatentTransformerArgs}
 *   model.safetensors  the BLT's weights (reference tensor names)
 *   train_args.json    the reference's TrainArgs; data.patcher_args are the patching settings
 *   entropy_model/     the entropy model (a byte LM: config.json + model.safetensors), when patching uses entropies
 * </pre>
 * or the reference's consolidated layout ({@code params.json} + {@code consolidated.pth}, see {@link ModelDirectory}),
 * whose params.json plays the part of train_args.json.
 */
public final class BltCheckpoint {
    public static final String ENTROPY_MODEL_DIR = "entropy_model";
    public static final String TRAIN_ARGS_FILE = "train_args.json";

    private BltCheckpoint() {}

    /** Loads the BLT of a run or hub directory; every problem is a one-line error. */
    public static Blt load(Path dir) {
        return load(dir, WeightStorage.F32);
    }

    /** Loads the BLT with its weights stored as {@code storage} says (mapped ones: inference only). */
    public static Blt load(Path dir, WeightStorage storage) {
        if (storage != WeightStorage.F32) return ModelDirectory.of(dir).loadBlt(storage);
        Path ckpt = ModelDirectory.resolve(dir);
        Blt model = Blt.uninitialised(BltConfig.fromJson(ModelDirectory.readConfig(ckpt), ModelDirectory.configName(ckpt)));
        ModelDirectory.loadWeights(ckpt, model.parameters());
        return model;
    }

    /** The entropy model's directory, if the checkpoint has one. */
    public static Optional<Path> entropyModel(Path dir) {
        if (HfLayout.isHf(ModelDirectory.resolve(dir))) return ModelDirectory.of(dir).entropyModelDir();
        Path e = ModelDirectory.resolve(dir).resolve(ENTROPY_MODEL_DIR);
        return ModelDirectory.holdsModel(e) ? Optional.of(e) : Optional.empty();
    }

    /**
     * The patching settings with the reference's {@code PatcherArgs} names: {@code data.patcher_args} of
     * train_args.json, or, without that file, the model config's own patching fields ({@code patching_mode},
     * {@code patching_threshold}, ...).
     */
    public static JsonNode patcherArgs(Path dir) {
        Path ckpt = ModelDirectory.resolve(dir);
        Path trainArgs = ckpt.resolve(TRAIN_ARGS_FILE);
        if (!Files.isRegularFile(trainArgs) && ConsolidatedCheckpoint.isConsolidated(ckpt))
            trainArgs = ckpt.resolve(ConsolidatedCheckpoint.PARAMS_FILE);
        if (Files.isRegularFile(trainArgs)) {
            JsonNode args = Json.readTree(trainArgs).path("data").path("patcher_args");
            if (!args.isObject()) throw new PatchworkException(trainArgs + " has no data.patcher_args object");
            return args;
        }
        return patcherArgs(BltConfig.fromJson(ModelDirectory.readConfig(ckpt), ModelDirectory.configName(ckpt)));
    }

    /** The patching fields of a model config, with the {@code PatcherArgs} names. */
    public static ObjectNode patcherArgs(BltConfig c) {
        ObjectNode n = Json.MAPPER.createObjectNode();
        n.put("patching_mode", c.patchingMode());
        n.put("threshold", c.patchingThreshold());
        n.put("threshold_add", c.patchingThresholdAdd());
        n.put("monotonicity", c.monotonicity());
        n.put("max_patch_length", c.maxPatchLength());
        if (c.patchSize() != null) n.put("patch_size", c.patchSize());
        return n;
    }
}

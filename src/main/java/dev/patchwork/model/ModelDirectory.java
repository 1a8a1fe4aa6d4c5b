package dev.patchwork.model;

import com.fasterxml.jackson.databind.JsonNode;
import dev.patchwork.io.Checkpoint;
import dev.patchwork.io.ConsolidatedCheckpoint;
import dev.patchwork.io.HfNames;
import dev.patchwork.io.HfTensorSource;
import dev.patchwork.io.PthFile;
import dev.patchwork.io.SafetensorsFile;
import dev.patchwork.io.TensorSource;
import dev.patchwork.io.WeightStorage;
import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.tensor.ParameterLayout;
import dev.patchwork.util.Json;
import dev.patchwork.util.PatchworkException;

import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * A model on disk and which kind it is: the one place that tells a byte LM, a BLT and a MEGABYTE model apart.
 *
 * <p>{@code dir} is a checkpoint directory ({@code config.json} + {@code model.safetensors}) or a Patchwork run
 * directory, whose latest checkpoint is in {@code checkpoint/}. The kind comes from {@code config.json}
 * ({@code {"args": ...}} or bare): a BLT config has the latent transformer's fields ({@code dim_global},
 * {@code n_layers_global}), a MEGABYTE config has {@code global_dim} ({@link MegabyteConfig}), a byte LM's has
 * {@code dim}, {@code n_layers}, ... but none of those.
 *
 * <p>A BLT directory has the reference's hub layout (the Patchwork BLT run's checkpoint has the same):
 * <pre>
 *   config.json          {"args": BLT config}
 *   model.safetensors    the BLT's weights, reference names
 *   train_args.json      optional: the training arguments; data.patcher_args holds the patcher settings
 *   entropy_model/       the entropy model: config.json + model.safetensors (a byte LM)
 * </pre>
 * {@code train_args.json} is looked for in the checkpoint directory, then in its parent (a run directory).
 *
 * <p>Any of these directories may instead have the reference's consolidated layout ({@link ConsolidatedCheckpoint}:
 * {@code params.json} + {@code consolidated.pth}, as its training writes): the config is then the model arguments
 * of {@code params.json} ({@code entropy_model} for an entropy-model run, else {@code model}), the weights come from
 * {@code consolidated.pth}, and {@code params.json} is also the training arguments. When a directory has both
 * layouts, the hub files win.
 *
 * <p>A directory may also have the Hugging Face transformers layout ({@link HfLayout}: config.json with
 * {@code "model_type": "blt"}, HF tensor names, the entropy model inside under {@code model.patcher.*}); its
 * entropy model "directory" is then the directory itself, which {@link ByteLmCheckpoint#load} reads as the patcher.
 */
public record ModelDirectory(Path checkpoint, Kind kind) {
    /** What a model directory holds. */
    public enum Kind {
        BYTE_LM("byte LM"), BLT("BLT"), MEGABYTE("MEGABYTE");

        private final String description;

        Kind(String description) {
            this.description = description;
        }

        public String description() {
            return description;
        }
    }

    /** Subdirectory of a BLT directory that holds its entropy model. */
    public static final String ENTROPY_MODEL_DIR = "entropy_model";
    /** The reference's training arguments, written next to a hub BLT ({@code hf.py} copies {@code params.json}). */
    public static final String TRAIN_ARGS_FILE = "train_args.json";

    /** Finds the checkpoint {@code dir} names (itself or its {@code checkpoint/}) and reads its kind. */
    public static ModelDirectory of(Path dir) {
        Path ckpt = ByteLmCheckpoint.resolve(dir);
        return new ModelDirectory(ckpt, kindOf(readConfig(ckpt)));
    }

    /** Whether {@code dir} holds a model itself: a {@code config.json}, or the consolidated layout. */
    public static boolean holdsModel(Path dir) {
        return Files.exists(dir.resolve(Checkpoint.CONFIG_FILE)) || ConsolidatedCheckpoint.isConsolidated(dir);
    }

    /**
     * The model config of a checkpoint directory in the hub form {@code {"args": ...}} (or bare, as config.json has
     * it): config.json, or the model arguments of a consolidated directory's params.json.
     */
    public static JsonNode readConfig(Path checkpoint) {
        if (HfLayout.isHf(checkpoint)) return HfLayout.bltHubConfig(checkpoint);
        if (Files.exists(checkpoint.resolve(Checkpoint.CONFIG_FILE))) return Json.readTree(checkpoint.resolve(Checkpoint.CONFIG_FILE));
        return ConsolidatedCheckpoint.read(checkpoint).hubConfig();
    }

    /** Where {@link #readConfig} reads from, for messages ({@code dir/config.json} or {@code dir/params.json model}). */
    public static String configName(Path checkpoint) {
        if (HfLayout.isHf(checkpoint)) return checkpoint.resolve(Checkpoint.CONFIG_FILE) + " " + HfLayout.REFERENCE_KEY + ".args";
        if (Files.exists(checkpoint.resolve(Checkpoint.CONFIG_FILE))) return checkpoint.resolve(Checkpoint.CONFIG_FILE).toString();
        return checkpoint.resolve(ConsolidatedCheckpoint.PARAMS_FILE) + " " + ConsolidatedCheckpoint.read(checkpoint).modelArgsKey();
    }

    /** Loads a checkpoint directory's weights (model.safetensors, or consolidated.pth) into {@code params}. */
    public static void loadWeights(Path checkpoint, ParameterBuffer params) {
        if (HfLayout.isHf(checkpoint)) HfLayout.loadBltWeights(checkpoint, params);
        else if (Files.exists(checkpoint.resolve(Checkpoint.CONFIG_FILE))) Checkpoint.loadModel(checkpoint, params);
        else ConsolidatedCheckpoint.read(checkpoint).loadInto(params);
    }

    /**
     * The weights of a checkpoint directory for {@code layout}, stored as {@code storage} says: with
     * {@link WeightStorage#F32} a float32 copy (as {@link #loadWeights(Path, ParameterBuffer)}); otherwise the file
     * is mapped into an automatic arena that lives as long as the returned buffer, and the matrices that
     * {@code storage} keeps mapped are read from it in place (inference only).
     */
    public static ParameterBuffer loadWeights(Path checkpoint, ParameterLayout layout, WeightStorage storage) {
        if (storage == WeightStorage.F32) {
            ParameterBuffer params = ParameterBuffer.allocate(layout);
            loadWeights(checkpoint, params);
            return params;
        }
        return weightSource(checkpoint, layout).load(layout, "", storage);
    }

    /** The tensors of a checkpoint directory, mapped for as long as anything reads them. */
    private static TensorSource weightSource(Path checkpoint, ParameterLayout layout) {
        if (HfLayout.isHf(checkpoint)) {
            long tables = layout.views().stream().filter(v -> HfNames.hashTableIndex(v.name()) >= 0).count();
            return HfTensorSource.blt(SafetensorsFile.open(requireFile(checkpoint, Checkpoint.MODEL_FILE), Arena.ofAuto()),
                    (int) Math.max(1, tables));
        }
        if (Files.exists(checkpoint.resolve(Checkpoint.CONFIG_FILE)))
            return SafetensorsFile.open(requireFile(checkpoint, Checkpoint.MODEL_FILE), Arena.ofAuto());
        ConsolidatedCheckpoint.read(checkpoint); // checks params.json
        return PthFile.open(checkpoint.resolve(ConsolidatedCheckpoint.WEIGHTS_FILE), Arena.ofAuto());
    }

    private static Path requireFile(Path dir, String name) {
        Path f = dir.resolve(name);
        if (!Files.isRegularFile(f)) throw new PatchworkException(dir + " has no " + name);
        return f;
    }

    /** The checkpoint directory {@code dir} names: itself, or a run's {@code checkpoint/}. */
    public static Path resolve(Path dir) {
        return ByteLmCheckpoint.resolve(dir);
    }

    /** The kind of the model in {@code dir} (a run directory or a checkpoint directory), from its config.json. */
    public static Kind kindOf(Path dir) {
        return of(dir).kind();
    }

    /** The kind of model a {@code config.json} describes (its {@code "args"} object, or the bare object). */
    public static Kind kindOf(JsonNode config) {
        JsonNode args = config.has("args") && config.size() == 1 ? config.get("args") : config;
        if (MegabyteConfig.isMegabyte(args)) return Kind.MEGABYTE;
        return args.has("dim_global") || args.has("n_layers_global") ? Kind.BLT : Kind.BYTE_LM;
    }

    private void require(Kind wanted) {
        if (kind != wanted)
            throw new PatchworkException(checkpoint + " holds a " + kind.description() + ", not a " + wanted.description());
    }

    public ByteLm loadByteLm() {
        return loadByteLm(WeightStorage.F32);
    }

    /** Loads the byte LM with its weights stored as {@code storage} says (mapped ones: inference only). */
    public ByteLm loadByteLm(WeightStorage storage) {
        require(Kind.BYTE_LM);
        return ByteLmCheckpoint.load(checkpoint, storage);
    }

    /** Loads a MEGABYTE model; every problem (bad config, wrong or missing tensors) is a one-line error. */
    public Megabyte loadMegabyte() {
        require(Kind.MEGABYTE);
        Megabyte model = Megabyte.uninitialised(MegabyteConfig.fromJson(readConfig(checkpoint), configName(checkpoint)));
        loadWeights(checkpoint, model.parameters());
        return model;
    }

    public BltConfig bltConfig() {
        require(Kind.BLT);
        return BltConfig.fromJson(readConfig(checkpoint), configName(checkpoint));
    }

    /** Loads the BLT; every problem (missing files, bad config, wrong or missing tensors) is a one-line error. */
    public Blt loadBlt() {
        return loadBlt(WeightStorage.F32);
    }

    /** Loads the BLT with its weights stored as {@code storage} says (mapped ones: inference only). */
    public Blt loadBlt(WeightStorage storage) {
        BltConfig config = bltConfig();
        if (storage == WeightStorage.F32) {
            Blt model = Blt.uninitialised(config);
            loadWeights(checkpoint, model.parameters());
            return model;
        }
        return Blt.withParameters(config, loadWeights(checkpoint, Blt.layoutOf(config), storage));
    }

    /** The BLT's entropy model directory, {@code entropy_model/}, if it has one. */
    public Optional<Path> entropyModelDir() {
        if (HfLayout.isHf(checkpoint)) return HfLayout.entropyHubConfig(checkpoint).map(c -> checkpoint);
        Path d = checkpoint.resolve(ENTROPY_MODEL_DIR);
        return holdsModel(d) ? Optional.of(d) : Optional.empty();
    }

    /** Loads the BLT's entropy model (a byte LM in {@code entropy_model/}). */
    public ByteLm loadEntropyModel() {
        return loadEntropyModel(WeightStorage.F32);
    }

    /** Loads the BLT's entropy model with its weights stored as {@code storage} says. */
    public ByteLm loadEntropyModel(WeightStorage storage) {
        require(Kind.BLT);
        Path d = entropyModelDir().orElseThrow(() -> new PatchworkException(checkpoint + " has no " + ENTROPY_MODEL_DIR
                + "/ (config.json + model.safetensors, or params.json + consolidated.pth, of the entropy model), which entropy patching needs"));
        try {
            return ByteLmCheckpoint.load(d, storage);
        } catch (PatchworkException | IllegalArgumentException e) {
            throw new PatchworkException(d + " is not a byte LM entropy model: " + e.getMessage());
        }
    }

    /**
     * The training arguments, if there are any: {@code train_args.json} in the checkpoint directory, the
     * {@code params.json} of a consolidated checkpoint, or {@code train_args.json} in the parent directory.
     */
    public Optional<Path> trainArgs() {
        if (Files.exists(checkpoint.resolve(TRAIN_ARGS_FILE))) return Optional.of(checkpoint.resolve(TRAIN_ARGS_FILE));
        if (ConsolidatedCheckpoint.isConsolidated(checkpoint)) return Optional.of(checkpoint.resolve(ConsolidatedCheckpoint.PARAMS_FILE));
        Path parent = checkpoint.toAbsolutePath().getParent();
        return parent != null && Files.exists(parent.resolve(TRAIN_ARGS_FILE)) ? Optional.of(parent.resolve(TRAIN_ARGS_FILE)) : Optional.empty();
    }

    /** {@code data.patcher_args} of {@link #trainArgs()}, if both exist (the reference's {@code PatcherArgs}). */
    public Optional<JsonNode> patcherArgs() {
        return trainArgs().map(Json::readTree).map(t -> t.path("data").path("patcher_args")).filter(JsonNode::isObject);
    }
}

package dev.patchwork.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.util.Json;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A model in the reference implementation's consolidated layout, as its training writes it and its
 * {@code generate.py load_consolidated_model_and_tokenizer} reads it:
 * <pre>
 *   params.json        the run's whole TrainArgs: model arguments, data/patcher arguments, optimiser, ...
 *   consolidated.pth   torch.save({"model": state_dict}), read by {@link PthFile}
 * </pre>
 * Which model the directory holds follows the reference: {@code entropy_model} when {@code train_entropy_model} is
 * true (an entropy-model run, an {@code LMTransformer}), else {@code model} (a BLT). {@link #modelArgs()} is that
 * node, in the form a hub {@code config.json} holds under {@code "args"}, so the config readers take it as is.
 */
public final class ConsolidatedCheckpoint {
    public static final String PARAMS_FILE = "params.json";
    public static final String WEIGHTS_FILE = "consolidated.pth";
    public static final String ENTROPY_MODEL_ARGS = "entropy_model";
    public static final String MODEL_ARGS = "model";

    private final Path dir;
    private final JsonNode trainArgs;
    private final String modelArgsKey;

    private ConsolidatedCheckpoint(Path dir, JsonNode trainArgs, String modelArgsKey) {
        this.dir = dir;
        this.trainArgs = trainArgs;
        this.modelArgsKey = modelArgsKey;
    }

    /** Whether {@code dir} has the two files of the consolidated layout. */
    public static boolean isConsolidated(Path dir) {
        return Files.isRegularFile(dir.resolve(PARAMS_FILE)) && Files.isRegularFile(dir.resolve(WEIGHTS_FILE));
    }

    /** Reads params.json and checks that the weights file is there (it is opened by {@link #openWeights()}). */
    public static ConsolidatedCheckpoint read(Path dir) {
        if (!Files.isDirectory(dir)) throw new CheckpointException(dir, "directory not found");
        for (String name : new String[]{PARAMS_FILE, WEIGHTS_FILE})
            if (!Files.isRegularFile(dir.resolve(name)))
                throw new CheckpointException(dir, "has no " + name + ", so it is not a consolidated checkpoint (which has "
                        + PARAMS_FILE + " and " + WEIGHTS_FILE + ")");
        Path params = dir.resolve(PARAMS_FILE);
        JsonNode args = Json.readTree(params);
        if (args == null || !args.isObject())
            throw new CheckpointException(params, "expected a JSON object (the reference's TrainArgs)");
        JsonNode flag = args.path("train_entropy_model");
        if (!flag.isMissingNode() && !flag.isNull() && !flag.isBoolean())
            throw new CheckpointException(params, "train_entropy_model must be true or false, got " + flag);
        String key = flag.asBoolean(false) ? ENTROPY_MODEL_ARGS : MODEL_ARGS;
        if (!args.path(key).isObject())
            throw new CheckpointException(params, "has no \"" + key + "\" object, which holds the model's arguments"
                    + (key.equals(ENTROPY_MODEL_ARGS) ? " when train_entropy_model is true" : " when train_entropy_model is false"));
        return new ConsolidatedCheckpoint(dir, args, key);
    }

    public Path directory() {
        return dir;
    }

    /** The whole of params.json. */
    public JsonNode trainArgs() {
        return trainArgs.deepCopy();
    }

    /** Whether the directory holds an entropy model ({@code LMTransformer}) rather than a BLT. */
    public boolean isEntropyModel() {
        return modelArgsKey.equals(ENTROPY_MODEL_ARGS);
    }

    /** {@value #ENTROPY_MODEL_ARGS} or {@value #MODEL_ARGS}: where in params.json the model's arguments are. */
    public String modelArgsKey() {
        return modelArgsKey;
    }

    /** The model's arguments ({@code LMTransformerArgs} or {@code ByteLatentTransformerArgs} field names). */
    public JsonNode modelArgs() {
        return trainArgs.get(modelArgsKey).deepCopy();
    }

    /** The model's arguments in the hub {@code config.json} form, {@code {"args": {...}}}. */
    public JsonNode hubConfig() {
        ObjectNode config = JsonNodeFactory.instance.objectNode();
        config.set("args", modelArgs());
        return config;
    }

    /** {@code data.patcher_args} (patching mode, threshold...), or a missing node if params.json has none. */
    public JsonNode patcherArgs() {
        return trainArgs.path("data").path("patcher_args").deepCopy();
    }

    /** Opens consolidated.pth; close it when done (its tensors are slices of the mapped file). */
    public PthFile openWeights() {
        return PthFile.open(dir.resolve(WEIGHTS_FILE));
    }

    /** Loads the state dict into {@code params}, whose views must match its tensors exactly (names and shapes). */
    public void loadInto(ParameterBuffer params) {
        try (PthFile weights = openWeights()) {
            weights.loadInto(params);
        }
    }
}

package dev.patchwork.io;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.databind.JsonNode;
import dev.patchwork.tensor.ParameterBuffer;

import java.io.IOException;
import java.nio.charset.MalformedInputException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * A run's checkpoint directory:
 * <pre>
 *   config.json            model configuration (JSON chosen by the caller)
 *   model.safetensors      parameters, F32, named after the parameter views
 *   optimizer.safetensors  optional: AdamW moments, views prefixed "m." (first) and "v." (second)
 *   trainer.json           optional: step, data position, RNG state... (JSON chosen by the caller)
 *   *.json                 optional: other JSON files (a BLT's train_args.json)
 *   entropy_model/         optional sub-checkpoints with the same layout (a BLT's entropy model)
 * </pre>
 * Saving builds the whole directory beside the target and swaps it in ({@link AtomicFiles#commitDirectory}), so a
 * crash leaves either the previous checkpoint or the new one, never a mix. Loading reports a missing directory,
 * missing files and corrupt or mismatching tensors as {@link CheckpointException}s that name the file.
 */
public final class Checkpoint {
    public static final String CONFIG_FILE = "config.json";
    public static final String MODEL_FILE = "model.safetensors";
    public static final String OPTIMIZER_FILE = "optimizer.safetensors";
    public static final String TRAINER_FILE = "trainer.json";
    /** Name prefixes of the AdamW first and second moments in {@link #OPTIMIZER_FILE}. */
    public static final String FIRST_MOMENT_PREFIX = "m.";
    public static final String SECOND_MOMENT_PREFIX = "v.";

    private Checkpoint() {}

    /** Starts a checkpoint of {@code params} described by {@code configJson}. */
    public static Builder builder(String configJson, ParameterBuffer params) {
        return new Builder(configJson, params);
    }

    /** What to save; {@link #save} writes it. */
    public static final class Builder {
        private final String configJson;
        private final ParameterBuffer params;
        private ParameterBuffer firstMoment;
        private ParameterBuffer secondMoment;
        private String trainerJson;
        private final Map<String, String> metadata = new LinkedHashMap<>();
        private final Map<String, Builder> subdirectories = new LinkedHashMap<>();
        private final Map<String, String> jsonFiles = new LinkedHashMap<>();

        private Builder(String configJson, ParameterBuffer params) {
            requireJsonArgument(configJson, "config");
            this.configJson = configJson;
            this.params = params;
        }

        /** Adds the AdamW moments; both must have the parameters' layout. */
        public Builder optimizer(ParameterBuffer m, ParameterBuffer v) {
            requireSameLayout(m, "first moment (m)");
            requireSameLayout(v, "second moment (v)");
            this.firstMoment = m;
            this.secondMoment = v;
            return this;
        }

        /** Adds the trainer's own state (a JSON document) for resuming. */
        public Builder trainerState(String json) {
            requireJsonArgument(json, "trainer state");
            this.trainerJson = json;
            return this;
        }

        /** Adds an entry to the {@code __metadata__} of model.safetensors. */
        public Builder metadata(String key, String value) {
            metadata.put(key, value);
            return this;
        }

        /**
         * Adds another JSON file beside config.json, e.g. the reference's {@code train_args.json} of a BLT, which its
         * tools read for the patching settings.
         */
        public Builder jsonFile(String name, String json) {
            if (!name.endsWith(".json") || name.contains("/") || name.contains("\\") || name.startsWith(".")
                    || name.equals(CONFIG_FILE) || name.equals(TRAINER_FILE))
                throw new IllegalArgumentException("'" + name + "' cannot name an extra checkpoint file: use a plain name ending in .json");
            requireJsonArgument(json, name);
            jsonFiles.put(name, json);
            return this;
        }

        /** Nests another checkpoint in a subdirectory, e.g. {@code entropy_model} of a BLT. */
        public Builder subdirectory(String name, Builder child) {
            if (name.isEmpty() || name.contains("/") || name.contains("\\") || name.startsWith(".")
                    || name.equals(CONFIG_FILE) || name.equals(MODEL_FILE) || name.equals(OPTIMIZER_FILE) || name.equals(TRAINER_FILE))
                throw new IllegalArgumentException("'" + name + "' cannot name a checkpoint subdirectory: use a plain name like entropy_model");
            if (child == this) throw new IllegalArgumentException("a checkpoint cannot contain itself");
            subdirectories.put(name, child);
            return this;
        }

        /** Writes the checkpoint to {@code dir} atomically, replacing any previous checkpoint there. */
        public void save(Path dir) {
            try {
                AtomicFiles.commitDirectory(dir, this::writeInto);
            } catch (IOException e) {
                throw new CheckpointException(dir, "cannot save checkpoint: " + e.getMessage(), e);
            }
        }

        /** Writes the files into an existing empty directory (the temporary one of a commit). */
        private void writeInto(Path dir) throws IOException {
            Files.writeString(dir.resolve(CONFIG_FILE), configJson);
            new SafetensorsWriter().addAll(params).metadata(metadata).write(dir.resolve(MODEL_FILE));
            if (firstMoment != null)
                new SafetensorsWriter().addAll(firstMoment, FIRST_MOMENT_PREFIX).addAll(secondMoment, SECOND_MOMENT_PREFIX)
                        .write(dir.resolve(OPTIMIZER_FILE));
            if (trainerJson != null) Files.writeString(dir.resolve(TRAINER_FILE), trainerJson);
            for (Map.Entry<String, String> f : jsonFiles.entrySet()) Files.writeString(dir.resolve(f.getKey()), f.getValue());
            for (Map.Entry<String, Builder> sub : subdirectories.entrySet()) {
                Path subdir = Files.createDirectory(dir.resolve(sub.getKey()));
                sub.getValue().writeInto(subdir);
            }
        }

        private void requireSameLayout(ParameterBuffer b, String what) {
            if (!b.layout().views().equals(params.layout().views()) || b.floats() != params.floats())
                throw new IllegalArgumentException("the optimizer's " + what + " buffer must have the parameters' layout");
        }
    }

    /** The text of config.json (checked to be JSON). */
    public static String readConfig(Path dir) {
        Path file = requireFile(dir, CONFIG_FILE);
        String text = readText(file);
        requireJsonFile(file, text);
        return text;
    }

    /** Loads model.safetensors into {@code params}, whose layout must match the file's tensors exactly. */
    public static void loadModel(Path dir, ParameterBuffer params) {
        try (SafetensorsFile f = SafetensorsFile.open(requireFile(dir, MODEL_FILE))) {
            f.loadInto(params);
        }
    }

    /** Maps model.safetensors for reading weights in place (inference); close it when done. */
    public static SafetensorsFile openModel(Path dir) {
        return SafetensorsFile.open(requireFile(dir, MODEL_FILE));
    }

    /** Whether the checkpoint holds optimizer moments (a checkpoint saved for resuming training). */
    public static boolean hasOptimizerState(Path dir) {
        return Files.isRegularFile(requireDirectory(dir).resolve(OPTIMIZER_FILE));
    }

    /** Loads the AdamW moments into {@code m} and {@code v} (each with the model's layout). */
    public static void loadOptimizer(Path dir, ParameterBuffer m, ParameterBuffer v) {
        try (SafetensorsFile f = SafetensorsFile.open(requireFile(dir, OPTIMIZER_FILE))) {
            for (String name : f.names())
                if (!name.startsWith(FIRST_MOMENT_PREFIX) && !name.startsWith(SECOND_MOMENT_PREFIX))
                    throw new CheckpointException(f.path(), "unexpected tensor " + name + " (optimizer tensors start with "
                            + FIRST_MOMENT_PREFIX + " or " + SECOND_MOMENT_PREFIX + ")");
            f.loadInto(m, FIRST_MOMENT_PREFIX);
            f.loadInto(v, SECOND_MOMENT_PREFIX);
        }
    }

    /** The text of trainer.json (checked to be JSON), or empty if the checkpoint has none. */
    public static Optional<String> readTrainerState(Path dir) {
        Path file = requireDirectory(dir).resolve(TRAINER_FILE);
        if (!Files.exists(file)) return Optional.empty();
        String text = readText(file);
        requireJsonFile(file, text);
        return Optional.of(text);
    }

    /**
     * Checks without loading any weights that {@code dir} is a complete checkpoint: config.json is JSON and every
     * safetensors file present has a valid header that matches its size. Cheap (headers only), so commands can fail
     * before doing expensive work.
     */
    public static void verify(Path dir) {
        readConfig(dir);
        openModel(dir).close();
        if (hasOptimizerState(dir)) SafetensorsFile.open(dir.resolve(OPTIMIZER_FILE)).close();
        readTrainerState(dir);
    }

    /**
     * The checkpoint directory, which must exist. If it is missing because a save crashed between its two renames,
     * the leftover complete copy is renamed back first ({@link AtomicFiles#recoverDirectory}).
     */
    private static Path requireDirectory(Path dir) {
        if (!Files.exists(dir)) {
            try {
                AtomicFiles.recoverDirectory(dir);
            } catch (IOException e) {
                throw new CheckpointException(dir, "checkpoint directory does not exist, and recovering it from an "
                        + "interrupted save failed: " + e.getMessage(), e);
            }
        }
        if (!Files.exists(dir)) throw new CheckpointException(dir, "checkpoint directory does not exist");
        if (!Files.isDirectory(dir)) throw new CheckpointException(dir, "is a file, but a checkpoint is a directory");
        return dir;
    }

    private static Path requireFile(Path dir, String name) {
        Path file = requireDirectory(dir).resolve(name);
        if (!Files.isRegularFile(file))
            throw new CheckpointException(dir, "checkpoint has no " + name + " (incomplete, or not a checkpoint directory)");
        return file;
    }

    private static String readText(Path file) {
        try {
            return Files.readString(file);
        } catch (MalformedInputException e) {
            throw new CheckpointException(file, "is not valid UTF-8 text (corrupt file)", e);
        } catch (IOException e) {
            throw new CheckpointException(file, "cannot read: " + e.getMessage(), e);
        }
    }

    private static void requireJsonFile(Path file, String text) {
        String problem = jsonProblem(text);
        if (problem != null) throw new CheckpointException(file, "is not valid JSON: " + problem);
    }

    private static void requireJsonArgument(String text, String what) {
        if (text == null) throw new IllegalArgumentException("the " + what + " JSON must not be null");
        String problem = jsonProblem(text);
        if (problem != null) throw new IllegalArgumentException("the " + what + " is not valid JSON: " + problem);
    }

    /** Why {@code text} is not one JSON document, or null if it is. */
    private static String jsonProblem(String text) {
        try {
            JsonNode node = SafetensorsHeader.MAPPER.readTree(text);
            return node == null || node.isMissingNode() ? "it is empty" : null;
        } catch (JacksonException e) {
            return String.valueOf(e.getOriginalMessage()).replaceAll("\\s+", " ");
        }
    }
}

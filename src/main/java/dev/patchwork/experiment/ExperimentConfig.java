package dev.patchwork.experiment;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.patchwork.eval.noise.Noise;
import dev.patchwork.util.Json;
import dev.patchwork.util.PatchworkException;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Set;

/**
 * An experiment config file:
 * <pre>
 * {
 *   "train_flops": 2e12,              training FLOPs per model (BLT paper accounting: 3 × forward FLOPs per byte × bytes)
 *   "seed": 1337,                     training seed of every model, and the noise seed
 *   "held_out_fraction": 0.1,         the last 10% of the corpus' byte stream is held out (every trainer's eval split)
 *   "eval_max_bytes": 60000,          the held-out text evaluated at the end is its first N bytes (default 100000)
 *   "noise": ["random-case", "drop", "repeat", "uppercase", "antspeak"],
 *   "train": { training settings shared by all models, without steps: batch_size, seq_len, lr, warmup, ... },
 *   "models": [
 *     {"name": "bytes", "kind": "byte_lm", "config": { model config } or "path/to/config.json", "train": { overrides }},
 *     {"name": "blt-entropy", "kind": "blt", "patching": "entropy", "patch_size": 4.5, "config": {...},
 *      "entropy_model": {...}, "train": {"seq_len": 48}}
 *   ]
 * }
 * </pre>
 * A config path is relative to the experiment file's directory. The step count of each model follows from
 * {@code train_flops}; {@code steps} and {@code eval_fraction} may not be given.
 */
public record ExperimentConfig(double trainFlops, long seed, double heldOutFraction, long evalMaxBytes, List<Noise> noises,
                               List<ModelSpec> models, JsonNode json) {
    public static final long DEFAULT_EVAL_MAX_BYTES = 100_000;
    private static final Set<String> TOP_LEVEL = Set.of("train_flops", "seed", "held_out_fraction", "eval_max_bytes", "noise", "train", "models");
    private static final Set<String> COMMON_ENTRY_FIELDS = Set.of("name", "kind", "config", "train");

    public static ExperimentConfig load(Path file) {
        return load(file, null);
    }

    /** Reads a config file, with its {@code train_flops} replaced by {@code trainFlops} when that is not null. */
    public static ExperimentConfig load(Path file, Double trainFlops) {
        if (!Files.isRegularFile(file)) throw new PatchworkException("experiment config not found: " + file);
        Path base = file.toAbsolutePath().getParent();
        JsonNode root = Json.readTree(file);
        if (trainFlops != null && root instanceof ObjectNode o) o.put("train_flops", trainFlops);
        return fromJson(root, file.toString(), base);
    }

    /** Reads and checks a config; {@code baseDir} resolves relative model config paths. */
    public static ExperimentConfig fromJson(JsonNode root, String what, Path baseDir) {
        if (!root.isObject()) throw new PatchworkException(what + ": expected a JSON object");
        for (Iterator<String> it = root.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!TOP_LEVEL.contains(f)) throw new PatchworkException(what + ": unknown field '" + f + "' (expected " + String.join(", ", TOP_LEVEL) + ")");
        }
        JsonNode flops = root.get("train_flops");
        if (flops == null || !flops.isNumber() || !(flops.doubleValue() > 0) || Double.isInfinite(flops.doubleValue()))
            throw new PatchworkException(what + ": \"train_flops\" must be a number > 0 (the training FLOP budget of each model, e.g. 2e12)");
        long seed = root.has("seed") ? wholeNumber(root.get("seed"), what, "seed") : 1337;
        double heldOut = root.has("held_out_fraction") ? root.get("held_out_fraction").asDouble(-1) : 0.1;
        if (!(heldOut > 0 && heldOut < 1)) throw new PatchworkException(what + ": held_out_fraction must be in (0, 1), got " + root.get("held_out_fraction"));
        long evalMax = root.has("eval_max_bytes") ? wholeNumber(root.get("eval_max_bytes"), what, "eval_max_bytes") : DEFAULT_EVAL_MAX_BYTES;
        if (evalMax < 1) throw new PatchworkException(what + ": eval_max_bytes must be >= 1, got " + evalMax);

        List<Noise> noises = new ArrayList<>();
        JsonNode noise = root.get("noise");
        if (noise != null) {
            if (!noise.isArray()) throw new PatchworkException(what + ": \"noise\" must be a list of names (" + Noise.names() + ")");
            for (JsonNode n : noise) {
                try {
                    Noise parsed = Noise.parse(n.asText());
                    if (noises.contains(parsed)) throw new PatchworkException(what + ": noise " + parsed.name() + " is listed twice");
                    noises.add(parsed);
                } catch (IllegalArgumentException e) {
                    throw new PatchworkException(what + ": " + e.getMessage());
                }
            }
        }

        JsonNode train = root.has("train") ? root.get("train") : Json.MAPPER.createObjectNode();
        if (!train.isObject()) throw new PatchworkException(what + ": \"train\" must be an object of training settings");
        checkTrain(train, what + ": train");

        JsonNode models = root.get("models");
        if (models == null || !models.isArray() || models.isEmpty())
            throw new PatchworkException(what + ": \"models\" must be a non-empty list of {name, kind, config, ...}");
        List<ModelSpec> specs = new ArrayList<>();
        Set<String> names = new HashSet<>();
        for (int i = 0; i < models.size(); i++) {
            JsonNode m = models.get(i);
            String at = what + ": models[" + i + "]";
            if (!m.isObject()) throw new PatchworkException(at + " must be an object");
            String name = m.path("name").asText("");
            if (!name.matches("[A-Za-z0-9][A-Za-z0-9._-]*"))
                throw new PatchworkException(at + ": \"name\" must be letters, digits, '.', '_' or '-' (it names the run directory), got " + m.get("name"));
            if (!names.add(name)) throw new PatchworkException(at + ": the name '" + name + "' is used twice");
            at = what + ": model '" + name + "'";
            if (!m.path("kind").isTextual()) throw new PatchworkException(at + ": \"kind\" is missing (available: " + ExperimentKinds.names() + ")");
            String kind = m.get("kind").textValue();
            ExperimentKinds.require(kind, at);
            JsonNode modelConfig = modelConfig(m.get("config"), at, baseDir);
            ObjectNode merged = ((ObjectNode) train).deepCopy();
            if (m.has("train")) {
                if (!m.get("train").isObject()) throw new PatchworkException(at + ": \"train\" must be an object");
                checkTrain(m.get("train"), at + ": train");
                merged.setAll((ObjectNode) m.get("train"));
            }
            merged.put("eval_fraction", heldOut);
            if (!merged.has("seed")) merged.put("seed", seed);
            specs.add(new ModelSpec(name, kind, modelConfig, merged, m, at));
        }
        return new ExperimentConfig(flops.doubleValue(), seed, heldOut, evalMax, List.copyOf(noises), List.copyOf(specs), root);
    }

    /** Names of the fields every entry may have (kinds add theirs). */
    static Set<String> commonEntryFields() {
        return COMMON_ENTRY_FIELDS;
    }

    private static void checkTrain(JsonNode train, String what) {
        if (train.has("steps"))
            throw new PatchworkException(what + ": remove \"steps\": each model's step count follows from train_flops");
        if (train.has("eval_fraction"))
            throw new PatchworkException(what + ": remove \"eval_fraction\": held_out_fraction sets it for every model");
    }

    private static JsonNode modelConfig(JsonNode config, String what, Path baseDir) {
        if (config == null) throw new PatchworkException(what + ": \"config\" is missing (a model config object, or the path of one)");
        if (config.isObject()) return config;
        if (!config.isTextual()) throw new PatchworkException(what + ": \"config\" must be an object or a file path");
        Path p = baseDir.resolve(config.textValue());
        if (!Files.isRegularFile(p)) throw new PatchworkException(what + ": config file " + p + " not found (paths are relative to the experiment file)");
        JsonNode node = Json.readTree(p);
        // a training config file ({"model": ..., "train": ...}) contributes its model section
        return node.has("model") && node.get("model").isObject() ? node.get("model") : node;
    }

    private static long wholeNumber(JsonNode v, String what, String field) {
        if (!v.isIntegralNumber() || !v.canConvertToLong()) throw new PatchworkException(what + ": " + field + " must be a whole number, got " + v);
        return v.longValue();
    }
}

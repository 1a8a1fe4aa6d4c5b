package dev.patchwork.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.patchwork.model.BltConfig;
import dev.patchwork.model.ByteLmConfig;
import dev.patchwork.model.ModelDirectory;
import dev.patchwork.patch.PatcherConfig;
import dev.patchwork.util.Json;
import dev.patchwork.util.PatchworkException;

import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;
import java.util.Set;
import java.util.function.UnaryOperator;

/**
 * A BLT training config file:
 * <pre>
 * {
 *   "model":         { ByteLatentTransformerArgs fields: dim_global, n_layers_global, dim_local_encoder, ... },
 *   "patcher":       { PatcherArgs fields: patching_mode, threshold, threshold_add, monotonicity, max_patch_length, patch_size },
 *   "entropy_model": { "checkpoint": "DIR" }                       an existing byte LM (run or model directory)
 *                 or { "model": { byte LM fields }, "train": { training settings } }   trained first, into RUN/entropy_model_run/
 *   "train":         { training settings: steps, batch_size, seq_len (patches per sequence), lr, ... }
 * }
 * </pre>
 * {@code patcher} may also hold {@code target_patch_size} instead of {@code threshold} (entropy mode): θ is then chosen
 * once the corpus' entropies are known, so that the training split's mean patch size hits the target
 * ({@link dev.patchwork.patch.ThresholdCalibration}); the θ found is what the run's files record.
 * {@code patcher} may be left out: the model's own patching fields ({@code patching_mode}, {@code patching_threshold},
 * {@code patching_threshold_add}, {@code monotonicity}, {@code max_patch_length}, {@code patch_size}) are used, and
 * where both give a field they must agree. Fields given nowhere take the reference's {@code PatcherArgs} defaults
 * (entropy patching, θ = 1.335442066192627, the released model's). {@code entropy_model} is required exactly when the
 * patching reads entropies (entropy mode). The entropy model is trained on the BLT's training split (the same
 * {@code eval_fraction}). A relative checkpoint path is relative to the working directory.
 *
 * @param entropyCheckpoint an existing entropy model, or null
 * @param entropyModel      an entropy model to train first, or null
 * @param entropySettings   its training settings (null unless {@code entropyModel} is set)
 */
public record BltTrainConfig(BltConfig model, PatcherConfig patcher, Double targetPatchSize, Path entropyCheckpoint,
                             ByteLmConfig entropyModel, TrainSettings entropySettings, TrainSettings settings) {
    /** The patcher field (a Patchwork extension of PatcherArgs) that asks for a threshold calibrated on the corpus. */
    public static final String TARGET_PATCH_SIZE = "target_patch_size";

    private static final Set<String> TOP_LEVEL = Set.of("model", "patcher", "entropy_model", "train");
    /** PatcherArgs field → the model config field that mirrors it. */
    private static final Map<String, String> MODEL_PATCHING_FIELDS = Map.of(
            "patching_mode", "patching_mode", "threshold", "patching_threshold", "threshold_add", "patching_threshold_add",
            "monotonicity", "monotonicity", "max_patch_length", "max_patch_length", "patch_size", "patch_size");

    /** Whether a config document is a BLT training config: its model section (or itself) has BLT fields. */
    public static boolean isBlt(JsonNode root) {
        JsonNode model = root.has("model") ? root.get("model") : root;
        return model.isObject() && ModelDirectory.kindOf(model) == ModelDirectory.Kind.BLT;
    }

    /**
     * Reads and validates a config.
     *
     * @param what      the file, for messages
     * @param overrides applied to the train section (command-line flags)
     */
    public static BltTrainConfig fromJson(JsonNode root, String what, UnaryOperator<ObjectNode> overrides) {
        if (!root.isObject()) throw new PatchworkException(what + ": expected a JSON object");
        if (!root.has("model")) throw new PatchworkException(what + ": a BLT config needs a 'model' section (and usually 'patcher', 'entropy_model', 'train')");
        for (Iterator<String> it = root.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!TOP_LEVEL.contains(f))
                throw new PatchworkException(what + ": unknown top-level field '" + f + "' (expected model, patcher, entropy_model, train)");
        }
        JsonNode modelNode = root.get("model");
        if (!modelNode.isObject()) throw new PatchworkException(what + ": 'model' must be an object");
        BltConfig parsed = BltConfig.fromJson(modelNode, what + " (model)");
        ObjectNode args = patcherArgs(modelNode, root.get("patcher"), what);
        Double target = null;
        if (args.has(TARGET_PATCH_SIZE)) {
            JsonNode t = args.remove(TARGET_PATCH_SIZE);
            if (!t.isNumber() || !(t.doubleValue() > 1) || Double.isInfinite(t.doubleValue()))
                throw new PatchworkException(what + ": patcher." + TARGET_PATCH_SIZE + " must be a number > 1, got " + t);
            if (args.has("threshold"))
                throw new PatchworkException(what + ": patcher." + TARGET_PATCH_SIZE + " chooses the threshold: remove patcher.threshold"
                        + " (and model.patching_threshold)");
            target = t.doubleValue();
        }
        PatcherConfig patcher = PatcherConfig.fromJson(args, what + " (patcher)");
        if (target != null && !patcher.hasThreshold())
            throw new PatchworkException(what + ": patcher." + TARGET_PATCH_SIZE + " calibrates the entropy threshold, but patching_mode is "
                    + patcher.patchingMode().jsonName());
        BltConfig model = withPatching(parsed, patcher);

        TrainSettings settings = settings(root.get("train"), what + " (train)", overrides);
        int seqLen = seqLen(settings, model);
        if (seqLen > model.maxSeqlen())
            throw new PatchworkException(what + ": train.seq_len " + seqLen + " (patches per sequence) exceeds the model's max_seqlen "
                    + model.maxSeqlen() + " (the global model's positions)");

        JsonNode entropy = root.get("entropy_model");
        boolean needsEntropies = patcher.build().usesEntropies();
        if (entropy == null || entropy.isNull()) {
            if (needsEntropies)
                throw new PatchworkException(what + ": " + patcher.build().describe() + " patching needs an entropy model: add \"entropy_model\": "
                        + "{\"checkpoint\": \"DIR\"} or {\"model\": {...}, \"train\": {...}} to train one first");
            return new BltTrainConfig(model, patcher, target, null, null, null, settings);
        }
        if (!needsEntropies)
            throw new PatchworkException(what + ": patching_mode " + patcher.patchingMode().jsonName() + " reads no entropies: remove 'entropy_model'");
        if (!entropy.isObject()) throw new PatchworkException(what + ": 'entropy_model' must be an object");
        for (Iterator<String> it = entropy.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!Set.of("checkpoint", "model", "train").contains(f))
                throw new PatchworkException(what + ": unknown field 'entropy_model." + f + "' (expected checkpoint, or model and train)");
        }
        if (entropy.has("checkpoint") == entropy.has("model"))
            throw new PatchworkException(what + ": 'entropy_model' needs exactly one of 'checkpoint' (an existing byte LM) or 'model' (one to train first)");
        if (entropy.has("checkpoint")) {
            if (entropy.has("train")) throw new PatchworkException(what + ": 'entropy_model.train' applies only with 'entropy_model.model'");
            JsonNode dir = entropy.get("checkpoint");
            if (!dir.isTextual() || dir.textValue().isBlank())
                throw new PatchworkException(what + ": 'entropy_model.checkpoint' must be a directory path");
            return new BltTrainConfig(model, patcher, target, Path.of(dir.textValue()).toAbsolutePath().normalize(), null, null, settings);
        }
        ByteLmConfig lm = ByteLmConfig.fromJson(entropy.get("model"), what + " (entropy_model.model)");
        JsonNode lmTrain = entropy.has("train") ? entropy.get("train") : Json.MAPPER.createObjectNode();
        if (!lmTrain.isObject()) throw new PatchworkException(what + ": 'entropy_model.train' must be an object");
        ObjectNode lmTrainNode = ((ObjectNode) lmTrain).deepCopy();
        if (lmTrainNode.has("eval_fraction") && lmTrainNode.get("eval_fraction").asDouble() != settings.evalFraction())
            throw new PatchworkException(what + ": entropy_model.train.eval_fraction must equal train.eval_fraction ("
                    + settings.evalFraction() + "): the entropy model must not train on the BLT's held-out data");
        lmTrainNode.put("eval_fraction", settings.evalFraction());
        TrainSettings lmSettings = Json.bind(lmTrainNode, TrainSettings.class, what + " (entropy_model.train)");
        int lmSeqLen = lmSettings.seqLenOr(lm.maxSeqlen());
        if (lmSeqLen > lm.maxSeqlen())
            throw new PatchworkException(what + ": entropy_model.train.seq_len " + lmSeqLen + " exceeds the entropy model's max_seqlen " + lm.maxSeqlen());
        return new BltTrainConfig(model, patcher, target, null, lm, lmSettings, settings);
    }

    /** Patches per training sequence: {@code seq_len}, or the model's {@code max_seqlen}. */
    public static int seqLen(TrainSettings settings, BltConfig model) {
        return settings.seqLenOr(model.maxSeqlen());
    }

    public int seqLen() {
        return seqLen(settings, model);
    }

    public boolean trainsEntropyModel() {
        return entropyModel != null;
    }

    /** The config as saved in a run (resolved: absolute checkpoint path, settings after command-line overrides). */
    public ObjectNode toJson() {
        ObjectNode root = Json.MAPPER.createObjectNode();
        ObjectNode modelArgs = (ObjectNode) tree(model.toJson()).get("args");
        if (targetPatchSize != null) modelArgs.putNull("patching_threshold"); // chosen by calibration, not given
        root.set("model", modelArgs);
        ObjectNode p = patcherArgs(patcher);
        if (targetPatchSize != null) {
            p.remove("threshold");
            p.put(TARGET_PATCH_SIZE, targetPatchSize);
        }
        root.set("patcher", p);
        if (entropyCheckpoint != null) root.set("entropy_model", Json.MAPPER.createObjectNode().put("checkpoint", entropyCheckpoint.toString()));
        if (entropyModel != null) {
            ObjectNode e = Json.MAPPER.createObjectNode();
            e.set("model", tree(entropyModel.toJson()).get("args"));
            e.set("train", Json.MAPPER.valueToTree(entropySettings));
            root.set("entropy_model", e);
        }
        root.set("train", Json.MAPPER.valueToTree(settings));
        return root;
    }

    /** The patcher settings with the reference's {@code PatcherArgs} names (as in train_args.json's data.patcher_args). */
    public static ObjectNode patcherArgs(PatcherConfig p) {
        ObjectNode n = Json.MAPPER.createObjectNode();
        n.put("patching_mode", p.patchingMode().jsonName());
        n.put("threshold", p.threshold());
        n.put("threshold_add", p.thresholdAdd());
        n.put("monotonicity", p.monotonicity());
        n.put("max_patch_length", p.maxPatchLength());
        n.put("patch_size", p.patchSize());
        return n;
    }

    /** The model config with its patching fields set to the patcher's (so config.json and train_args.json agree). */
    static BltConfig withPatching(BltConfig model, PatcherConfig p) {
        ObjectNode args = (ObjectNode) tree(model.toJson()).get("args");
        ObjectNode patching = patcherArgs(p);
        MODEL_PATCHING_FIELDS.forEach((patcherField, modelField) -> args.set(modelField, patching.get(patcherField)));
        return BltConfig.fromJson(args, "model config with the patcher's settings");
    }

    /** The patcher section, completed with the model's patching fields; a field both give differently is an error. */
    private static ObjectNode patcherArgs(JsonNode modelNode, JsonNode patcherNode, String what) {
        if (patcherNode != null && !patcherNode.isObject()) throw new PatchworkException(what + ": 'patcher' must be an object");
        ObjectNode args = patcherNode == null ? Json.MAPPER.createObjectNode() : ((ObjectNode) patcherNode).deepCopy();
        MODEL_PATCHING_FIELDS.forEach((patcherField, modelField) -> {
            JsonNode v = modelNode.get(modelField);
            if (v == null || v.isNull()) return;
            JsonNode given = args.get(patcherField);
            if (given == null) args.set(patcherField, v);
            else if (!sameValue(given, v))
                throw new PatchworkException(what + ": model." + modelField + " (" + v + ") and patcher." + patcherField + " (" + given
                        + ") differ: give the patching settings in one place");
        });
        return args;
    }

    /** Parses JSON this program wrote itself. */
    static JsonNode tree(String json) {
        try {
            return Json.MAPPER.readTree(json);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException("invalid JSON written by Patchwork: " + e.getOriginalMessage(), e);
        }
    }

    private static boolean sameValue(JsonNode a, JsonNode b) {
        if (a.isNumber() && b.isNumber()) return a.doubleValue() == b.doubleValue();
        return a.equals(b);
    }

    private static TrainSettings settings(JsonNode trainNode, String what, UnaryOperator<ObjectNode> overrides) {
        if (trainNode != null && !trainNode.isObject()) throw new PatchworkException(what + ": 'train' must be an object");
        ObjectNode n = trainNode == null ? Json.MAPPER.createObjectNode() : ((ObjectNode) trainNode).deepCopy();
        return Json.bind(overrides.apply(n), TrainSettings.class, what);
    }
}

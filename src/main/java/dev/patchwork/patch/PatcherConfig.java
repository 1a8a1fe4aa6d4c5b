package dev.patchwork.patch;

import com.fasterxml.jackson.databind.JsonNode;
import dev.patchwork.util.PatchworkException;

import java.util.Iterator;
import java.util.Map;
import java.util.Set;

/**
 * Patching settings with the names of the reference's {@code PatcherArgs} ({@code patching_mode}, {@code threshold},
 * {@code threshold_add}, {@code monotonicity}, {@code max_patch_length}, {@code patch_size}); {@link #build()} picks the
 * rule as {@code Patcher.patch} does. In entropy mode: no threshold → top-k; else {@code monotonicity} → relative;
 * else {@code threshold_add} set → global and relative; else global.
 *
 * @param patchingMode   entropy, space, static, byte or bpe
 * @param threshold      θ in nats (entropy mode); null selects top-k patching
 * @param thresholdAdd   the relative threshold of the global+relative rule, or null
 * @param monotonicity   use the relative rule (θ then bounds H[t] − H[t−1])
 * @param maxPatchLength split longer patches, or null for no limit
 * @param patchSize      top-k: the target mean size; static: the (whole) patch size
 */
public record PatcherConfig(Mode patchingMode, Double threshold, Double thresholdAdd, boolean monotonicity,
                            Integer maxPatchLength, double patchSize) {
    /** The reference's default and the released models' threshold. */
    public static final double RELEASED_THRESHOLD = 1.335442066192627;
    /** The reference's default patch_size (the paper's 4.5 bytes per patch). */
    public static final double DEFAULT_PATCH_SIZE = 4.5;

    /** Fields of the reference's PatcherArgs that do not affect the patches (devices, batching, logging). */
    static final Set<String> INERT_FIELDS = Set.of("patching_device", "entropy_model", "entropy_model_checkpoint_dir",
            "realtime_patching", "patching_batch_size", "data_loader_patching", "device", "log_time");

    /** The reference's {@code PatchingModeEnum} values this port implements ({@code bpe_patcher} needs a model and is not one). */
    public enum Mode {
        ENTROPY, SPACE, STATIC, BYTE, BPE;

        public String jsonName() {
            return name().toLowerCase();
        }

        public static Mode parse(String name) {
            for (Mode m : values()) if (m.jsonName().equals(name)) return m;
            throw new IllegalArgumentException("patching_mode '" + name + "' is not one of entropy, space, static, byte, bpe");
        }
    }

    public PatcherConfig {
        if (patchingMode == null) throw new IllegalArgumentException("patching_mode is missing: use entropy, space, static, byte or bpe");
        if (threshold != null) Thresholds.check("threshold", threshold);
        if (thresholdAdd != null) Thresholds.check("threshold_add", thresholdAdd);
        if (maxPatchLength != null && maxPatchLength < 1)
            throw new IllegalArgumentException("max_patch_length must be >= 1 (or null for no limit), got " + maxPatchLength);
        if (!(patchSize > 0) || Double.isInfinite(patchSize))
            throw new IllegalArgumentException("patch_size must be a finite number > 0, got " + patchSize);
        if (patchingMode == Mode.STATIC && patchSize != Math.rint(patchSize))
            throw new IllegalArgumentException("static patching needs a whole patch_size, got " + patchSize);
        if (patchingMode == Mode.ENTROPY && monotonicity && thresholdAdd != null)
            throw new IllegalArgumentException("threshold_add is ignored when monotonicity is true (the relative rule takes precedence): unset one of them");
        if (patchingMode == Mode.ENTROPY && threshold == null && (monotonicity || thresholdAdd != null))
            throw new IllegalArgumentException("monotonicity and threshold_add need a threshold (without one, entropy patching is top-k)");
    }

    /** Entropy patching with a global threshold, as the released models. */
    public static PatcherConfig entropy(double threshold) {
        return new PatcherConfig(Mode.ENTROPY, threshold, null, false, null, DEFAULT_PATCH_SIZE);
    }

    /** The reference's defaults: {@code PatcherArgs()}. */
    public static PatcherConfig defaults() {
        return entropy(RELEASED_THRESHOLD);
    }

    public PatcherConfig withThreshold(Double newThreshold) {
        return new PatcherConfig(patchingMode, newThreshold, thresholdAdd, monotonicity, maxPatchLength, patchSize);
    }

    /** Whether {@link #build()} gives a rule with a threshold θ (those are the ones calibration can tune). */
    public boolean hasThreshold() {
        return patchingMode == Mode.ENTROPY && threshold != null;
    }

    public Patcher build() {
        int max = maxPatchLength == null ? Patcher.NO_MAX_LENGTH : maxPatchLength;
        return switch (patchingMode) {
            case ENTROPY -> {
                if (threshold == null) yield new TopKPatcher(patchSize, max);
                float theta = threshold.floatValue(); // the reference compares float32 entropies: θ is rounded to float
                if (monotonicity) yield new RelativeThresholdPatcher(theta, max);
                if (thresholdAdd != null) yield new GlobalRelativePatcher(theta, thresholdAdd.floatValue(), max);
                yield new GlobalThresholdPatcher(theta, max);
            }
            case SPACE -> new SpacePatcher(max);
            case STATIC -> new StaticPatcher((int) patchSize, max);
            case BYTE -> new BytePatcher(max);
            case BPE -> new BpeDelimiterPatcher(max);
        };
    }

    /**
     * Reads a {@code PatcherArgs} object (e.g. {@code data.patcher_args} of a reference {@code train_args.json}). An
     * absent field takes the reference's default (threshold 1.335442066192627); an explicit {@code "threshold": null}
     * selects top-k, as in the reference. The reference's device, batching and logging fields are accepted and
     * ignored; any other field is refused.
     */
    public static PatcherConfig fromJson(JsonNode node, String what) {
        if (node == null || !node.isObject()) throw new PatchworkException(what + ": expected a JSON object of patcher args");
        Mode mode = Mode.ENTROPY;
        Double threshold = RELEASED_THRESHOLD, thresholdAdd = null;
        boolean monotonicity = false;
        Integer maxLength = null;
        double patchSize = DEFAULT_PATCH_SIZE;
        try {
            for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> f = it.next();
                JsonNode v = f.getValue();
                switch (f.getKey()) {
                    case "patching_mode" -> mode = v.isNull() ? Mode.STATIC : Mode.parse(text(f.getKey(), v)); // None = static in blt.py
                    case "threshold" -> threshold = v.isNull() ? null : number(f.getKey(), v);
                    case "threshold_add" -> thresholdAdd = v.isNull() ? null : number(f.getKey(), v);
                    case "monotonicity" -> {
                        if (!v.isBoolean()) throw new IllegalArgumentException("monotonicity must be true or false, got " + v);
                        monotonicity = v.booleanValue();
                    }
                    case "max_patch_length" -> maxLength = v.isNull() ? null : wholeNumber(f.getKey(), v);
                    case "patch_size" -> patchSize = number(f.getKey(), v);
                    default -> {
                        if (!INERT_FIELDS.contains(f.getKey()))
                            throw new IllegalArgumentException("unknown field '" + f.getKey() + "' (known: patching_mode, threshold, threshold_add, monotonicity, max_patch_length, patch_size)");
                    }
                }
            }
            return new PatcherConfig(mode, threshold, thresholdAdd, monotonicity, maxLength, patchSize);
        } catch (IllegalArgumentException e) {
            throw new PatchworkException(what + ": " + e.getMessage());
        }
    }

    private static String text(String field, JsonNode v) {
        if (!v.isTextual()) throw new IllegalArgumentException(field + " must be a string, got " + v);
        return v.textValue();
    }

    private static double number(String field, JsonNode v) {
        if (!v.isNumber()) throw new IllegalArgumentException(field + " must be a number, got " + v);
        return v.doubleValue();
    }

    private static int wholeNumber(String field, JsonNode v) {
        if (!v.isIntegralNumber() || !v.canConvertToInt()) throw new IllegalArgumentException(field + " must be a whole number, got " + v);
        return v.intValue();
    }
}

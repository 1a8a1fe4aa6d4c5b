package dev.patchwork.experiment;

import dev.patchwork.train.TrainSettings;
import dev.patchwork.util.PatchworkException;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The model kinds an experiment can train, by their config name. Adding a kind is one {@link ExperimentModel}
 * implementation and one line in the table below.
 */
public final class ExperimentKinds {
    /** Builds a kind's adapter from its config entry and training settings (validating both). */
    @FunctionalInterface
    public interface Factory {
        ExperimentModel create(ModelSpec spec, TrainSettings settings);
    }

    private static final Map<String, Factory> KINDS = new LinkedHashMap<>();

    static {
        KINDS.put("byte_lm", ByteLmExperimentModel::new);
        KINDS.put("blt", BltExperimentModel::new);
        KINDS.put("megabyte", MegabyteExperimentModel::new);
        KINDS.put("bpe_lm", TokenLmExperimentModel::new);
    }

    private ExperimentKinds() {}

    /** Whether {@code kind} is known; refuses unknown and not-yet-available kinds with a clear message. */
    public static void require(String kind, String what) {
        if (KINDS.containsKey(kind)) return;
        throw new PatchworkException(what + ": unknown model kind '" + kind + "' (available: " + names() + ")");
    }

    public static ExperimentModel create(ModelSpec spec, TrainSettings settings) {
        require(spec.kind(), spec.what());
        return KINDS.get(spec.kind()).create(spec, settings);
    }

    public static String names() {
        return String.join(", ", KINDS.keySet());
    }
}

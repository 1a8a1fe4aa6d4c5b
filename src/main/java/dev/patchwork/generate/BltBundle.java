package dev.patchwork.generate;

import dev.patchwork.io.WeightStorage;
import com.fasterxml.jackson.databind.JsonNode;
import dev.patchwork.model.Blt;
import dev.patchwork.model.BltConfig;
import dev.patchwork.model.ModelDirectory;
import dev.patchwork.patch.EntropyModel;
import dev.patchwork.patch.PatcherConfig;
import dev.patchwork.util.PatchworkException;

import java.util.Optional;

/**
 * A BLT ready to generate: the model, its entropy model (loaded only when its patching reads entropies), and its
 * patcher settings with where they came from.
 *
 * <p>Patcher settings: {@code data.patcher_args} of the directory's {@code train_args.json} (the reference's hub
 * layout, also what {@code hf.py} reads), else the BLT config's own {@code patching_mode}, {@code patching_threshold},
 * {@code patching_threshold_add}, {@code monotonicity}, {@code max_patch_length} and {@code patch_size}. An explicit
 * threshold overrides either.
 */
public record BltBundle(Blt model, EntropyModel entropyModel, PatcherConfig patching, String patchingSource) {
    /**
     * @param threshold an entropy threshold that replaces the directory's, or null
     */
    public static BltBundle load(ModelDirectory dir, Double threshold) {
        return load(dir, threshold, WeightStorage.AUTO);
    }

    /**
     * @param threshold an entropy threshold that replaces the directory's, or null
     * @param storage   where the weights of both models live ({@link WeightStorage#AUTO}: BF16/F16 stay mapped)
     */
    public static BltBundle load(ModelDirectory dir, Double threshold, WeightStorage storage) {
        Blt model = dir.loadBlt(storage);
        String source;
        PatcherConfig patching;
        Optional<JsonNode> args = dir.patcherArgs();
        if (args.isPresent()) {
            source = dir.trainArgs().orElseThrow() + " (data.patcher_args)";
            patching = PatcherConfig.fromJson(args.get(), source);
        } else {
            source = dir.checkpoint().resolve("config.json") + " (patching_* fields)";
            patching = fromConfig(model.config(), source);
        }
        if (threshold != null) {
            if (patching.patchingMode() != PatcherConfig.Mode.ENTROPY)
                throw new PatchworkException("a threshold applies to entropy patching, but this BLT patches by "
                        + patching.patchingMode().jsonName() + " (from " + source + ")");
            patching = patching.withThreshold(threshold);
            source = "the given threshold";
        }
        EntropyModel entropy = patching.build().usesEntropies() ? new EntropyModel(dir.loadEntropyModel(storage)) : null;
        return new BltBundle(model, entropy, patching, source);
    }

    /** The patcher settings a BLT config carries ({@code patching_mode}, {@code patching_threshold}, ...). */
    static PatcherConfig fromConfig(BltConfig c, String what) {
        String mode = c.patchingMode() == null ? "entropy" : c.patchingMode();
        try {
            return new PatcherConfig(PatcherConfig.Mode.parse(mode), c.patchingThreshold(), c.patchingThresholdAdd(),
                    c.monotonicity(), c.maxPatchLength(), c.patchSize() == null ? PatcherConfig.DEFAULT_PATCH_SIZE : c.patchSize());
        } catch (IllegalArgumentException e) {
            throw new PatchworkException(what + ": " + e.getMessage());
        }
    }

    /** The incremental generator (KV caches), or the reference's no-cache procedure. */
    public BltGeneration generator(boolean cache) {
        return cache ? new BltGenerator(model, entropyModel, patching.build())
                : new BltNoCacheGenerator(model, entropyModel, patching.build());
    }
}

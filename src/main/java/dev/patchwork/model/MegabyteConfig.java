package dev.patchwork.model;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import dev.patchwork.util.Json;
import dev.patchwork.util.PatchworkException;

import java.nio.file.Path;

/**
 * Configuration of a {@link Megabyte} model (fixed patches of {@code patch_size} bytes, spec seed-systems §1).
 * {@code global_dim} is the width per byte D_G: the global transformer runs at {@code patch_size · global_dim}.
 * The local transformer has width {@code local_dim}. The field {@code global_dim} is what marks a config as MEGABYTE
 * ({@link ModelDirectory#kindOf(JsonNode)}); BLT's {@code dim_global} is a different name on purpose.
 * Feed-forward sizes follow the byte LM's rule ({@link ByteLmConfig#ffnHidden(int, Double, int)}).
 */
@JsonInclude(JsonInclude.Include.ALWAYS)
public record MegabyteConfig(
        @JsonProperty("patch_size") Integer patchSize,
        @JsonProperty("global_dim") Integer globalDim,
        @JsonProperty("global_layers") Integer globalLayers,
        @JsonProperty("global_heads") Integer globalHeads,
        @JsonProperty("local_dim") Integer localDim,
        @JsonProperty("local_layers") Integer localLayers,
        @JsonProperty("local_heads") Integer localHeads,
        @JsonProperty("ffn_dim_multiplier") Double ffnDimMultiplier,
        @JsonProperty("multiple_of") Integer multipleOf,
        @JsonProperty("max_seqlen") Integer maxSeqlen,
        @JsonProperty("vocab_size") Integer vocabSize,
        @JsonProperty("norm_eps") Double normEps,
        @JsonProperty("rope_theta") Double ropeTheta,
        @JsonProperty("seed") Long seed) {

    public MegabyteConfig {
        patchSize = patchSize == null ? 4 : patchSize;
        globalDim = globalDim == null ? 32 : globalDim;
        globalLayers = globalLayers == null ? 2 : globalLayers;
        globalHeads = globalHeads == null ? 4 : globalHeads;
        localDim = localDim == null ? 64 : localDim;
        localLayers = localLayers == null ? 2 : localLayers;
        localHeads = localHeads == null ? 4 : localHeads;
        multipleOf = multipleOf == null ? 32 : multipleOf;
        maxSeqlen = maxSeqlen == null ? 256 : maxSeqlen;
        vocabSize = vocabSize == null ? 260 : vocabSize;
        normEps = normEps == null ? 1e-5 : normEps;
        ropeTheta = ropeTheta == null ? 10000.0 : ropeTheta;
        seed = seed == null ? 42L : seed;

        positive("patch_size", patchSize);
        positive("global_dim", globalDim);
        positive("global_layers", globalLayers);
        positive("global_heads", globalHeads);
        positive("local_dim", localDim);
        positive("local_layers", localLayers);
        positive("local_heads", localHeads);
        positive("multiple_of", multipleOf);
        positive("max_seqlen", maxSeqlen);
        if (vocabSize < 5) throw new IllegalArgumentException("vocab_size must be at least 5 (4 special ids + bytes), got " + vocabSize);
        if (maxSeqlen % patchSize != 0)
            throw new IllegalArgumentException("max_seqlen (" + maxSeqlen + ") must be a multiple of patch_size (" + patchSize + ")");
        int globalWidth = patchSize * globalDim;
        if (globalWidth % globalHeads != 0)
            throw new IllegalArgumentException("the global width patch_size*global_dim = " + globalWidth
                    + " must be divisible by global_heads (" + globalHeads + ")");
        if ((globalWidth / globalHeads) % 2 != 0)
            throw new IllegalArgumentException("the global head dimension patch_size*global_dim/global_heads = "
                    + globalWidth / globalHeads + " must be even for RoPE");
        if (localDim % localHeads != 0)
            throw new IllegalArgumentException("local_dim (" + localDim + ") must be divisible by local_heads (" + localHeads + ")");
        if ((localDim / localHeads) % 2 != 0)
            throw new IllegalArgumentException("the local head dimension local_dim/local_heads = " + localDim / localHeads + " must be even for RoPE");
        if (ffnDimMultiplier != null && !(ffnDimMultiplier > 0)) throw new IllegalArgumentException("ffn_dim_multiplier must be > 0, got " + ffnDimMultiplier);
        if (!(normEps > 0)) throw new IllegalArgumentException("norm_eps must be > 0, got " + normEps);
        if (!(ropeTheta > 0)) throw new IllegalArgumentException("rope_theta must be > 0, got " + ropeTheta);
    }

    private static void positive(String field, int v) {
        if (v <= 0) throw new IllegalArgumentException(field + " must be > 0, got " + v);
    }

    /** Width of the global transformer: the concatenated embeddings of one patch, {@code P·D_G}. */
    public int globalWidth() {
        return patchSize * globalDim;
    }

    public int globalHeadDim() {
        return globalWidth() / globalHeads;
    }

    public int localHeadDim() {
        return localDim / localHeads;
    }

    /** Patches in the longest sequence. */
    public int maxPatches() {
        return maxSeqlen / patchSize;
    }

    public int globalFfnHidden() {
        return ByteLmConfig.ffnHidden(globalWidth(), ffnDimMultiplier, multipleOf);
    }

    public int localFfnHidden() {
        return ByteLmConfig.ffnHidden(localDim, ffnDimMultiplier, multipleOf);
    }

    /** Whether a model config (bare, or {@code {"args": ...}}) describes a MEGABYTE model. */
    public static boolean isMegabyte(JsonNode config) {
        JsonNode args = config.has("args") && config.size() == 1 ? config.get("args") : config;
        return args.has("global_dim");
    }

    /** Reads a config: a bare object, or {@code {"args": {...}}} as checkpoints store it. */
    public static MegabyteConfig fromJson(JsonNode node, String what) {
        if (node == null || !node.isObject()) throw new PatchworkException(what + ": expected a JSON object");
        if (node.has("args") && node.size() == 1) node = node.get("args");
        return Json.bind(node, MegabyteConfig.class, what);
    }

    public static MegabyteConfig read(Path file) {
        return fromJson(Json.readTree(file), file.toString());
    }

    /** The checkpoint form {@code {"args": {...}}}, like the byte LM's. */
    public String toJson() {
        return Json.write(java.util.Map.of("args", this));
    }
}

package dev.patchwork.model;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import dev.patchwork.util.Json;
import dev.patchwork.util.PatchworkException;

import java.nio.file.Path;
import java.util.Set;

/**
 * Configuration of a byte-level transformer LM, with the field names of the reference's {@code LMTransformerArgs}
 * (so the entropy model of a released BLT loads as is). Missing fields take the reference defaults, except
 * {@code vocab_size} (260, the byte vocabulary) and {@code attn_bias_type} ({@code local_block_causal}: attention
 * stops at EOS, spec §6).
 *
 * <p>Fields the reference has but that change nothing here are accepted and kept ({@code attn_impl},
 * {@code init_device}, {@code init_dtype}, {@code rope_use_fp32_in_outer_product}: our RoPE tables are always fp32).
 */
@JsonInclude(JsonInclude.Include.ALWAYS)
public record ByteLmConfig(
        @JsonProperty("dim") Integer dim,
        @JsonProperty("n_layers") Integer nLayers,
        @JsonProperty("head_dim") Integer headDim,
        @JsonProperty("n_heads") Integer nHeads,
        @JsonProperty("n_kv_heads") Integer nKvHeads,
        @JsonProperty("ffn_dim_multiplier") Double ffnDimMultiplier,
        @JsonProperty("multiple_of") Integer multipleOf,
        @JsonProperty("norm_eps") Double normEps,
        @JsonProperty("rope_theta") Double ropeTheta,
        @JsonProperty("init_base_std") Double initBaseStd,
        @JsonProperty("init_std_factor") String initStdFactor,
        @JsonProperty("max_seqlen") Integer maxSeqlen,
        @JsonProperty("seed") Long seed,
        @JsonProperty("vocab_size") Integer vocabSize,
        @JsonProperty("weight_tying") Boolean weightTying,
        @JsonProperty("sliding_window") Integer slidingWindow,
        @JsonProperty("attn_bias_type") String attnBiasType,
        @JsonProperty("attn_impl") String attnImpl,
        @JsonProperty("eos_id") Integer eosId,
        @JsonProperty("init_device") String initDevice,
        @JsonProperty("init_dtype") String initDtype,
        @JsonProperty("rope_use_fp32_in_outer_product") Boolean ropeUseFp32InOuterProduct) {

    static final Set<String> INIT_STD_FACTORS = Set.of("disabled", "global_depth", "current_depth", "dim_ratio");
    static final Set<String> BIAS_TYPES = Set.of("causal", "local_block_causal", "block_causal");

    public ByteLmConfig {
        dim = dim == null ? 512 : dim;
        nLayers = nLayers == null ? 8 : nLayers;
        multipleOf = multipleOf == null ? 256 : multipleOf;
        normEps = normEps == null ? 1e-5 : normEps;
        ropeTheta = ropeTheta == null ? 10000.0 : ropeTheta;
        initStdFactor = initStdFactor == null ? "disabled" : initStdFactor;
        maxSeqlen = maxSeqlen == null ? 1024 : maxSeqlen;
        seed = seed == null ? 42L : seed;
        vocabSize = vocabSize == null ? 260 : vocabSize;
        weightTying = weightTying != null && weightTying;
        attnBiasType = attnBiasType == null ? "local_block_causal" : attnBiasType;
        eosId = eosId == null ? 2 : eosId;

        positive("dim", dim);
        positive("n_layers", nLayers);
        positive("multiple_of", multipleOf);
        positive("max_seqlen", maxSeqlen);
        if (vocabSize < 5) throw new IllegalArgumentException("vocab_size must be at least 5 (4 special ids + bytes), got " + vocabSize);
        if (headDim == null && nHeads == null) throw new IllegalArgumentException("set n_heads (or head_dim)");
        if (nHeads != null) positive("n_heads", nHeads);
        if (headDim != null) positive("head_dim", headDim);
        int heads = nHeads != null ? nHeads : dim / headDim;
        int hd = headDim != null ? headDim : dim / heads;
        if (headDim == null && dim % heads != 0)
            throw new IllegalArgumentException("dim (" + dim + ") must be divisible by n_heads (" + heads + ")");
        if (hd % 2 != 0) throw new IllegalArgumentException("head dimension dim/n_heads = " + hd + " must be even for RoPE");
        if (nKvHeads != null && (nKvHeads <= 0 || heads % nKvHeads != 0))
            throw new IllegalArgumentException("n_kv_heads (" + nKvHeads + ") must divide n_heads (" + heads + ")");
        if (ffnDimMultiplier != null && !(ffnDimMultiplier > 0)) throw new IllegalArgumentException("ffn_dim_multiplier must be > 0, got " + ffnDimMultiplier);
        if (!(normEps > 0)) throw new IllegalArgumentException("norm_eps must be > 0, got " + normEps);
        if (!(ropeTheta > 0)) throw new IllegalArgumentException("rope_theta must be > 0, got " + ropeTheta);
        if (initBaseStd != null && !(initBaseStd > 0)) throw new IllegalArgumentException("init_base_std must be > 0, got " + initBaseStd);
        if (!INIT_STD_FACTORS.contains(initStdFactor))
            throw new IllegalArgumentException("init_std_factor must be one of " + INIT_STD_FACTORS + ", got '" + initStdFactor + "'");
        if (slidingWindow != null && slidingWindow <= 0) throw new IllegalArgumentException("sliding_window must be > 0 or null, got " + slidingWindow);
        if (!BIAS_TYPES.contains(attnBiasType))
            throw new IllegalArgumentException("attn_bias_type must be one of " + BIAS_TYPES + ", got '" + attnBiasType + "'");
        if (weightTying) throw new IllegalArgumentException("weight_tying=true is not supported (the reference models do not use it); set it to false");
    }

    private static void positive(String field, int v) {
        if (v <= 0) throw new IllegalArgumentException(field + " must be > 0, got " + v);
    }

    /** Attention heads. */
    public int heads() {
        return nHeads != null ? nHeads : dim / headDim;
    }

    /** Key/value heads (grouped-query attention when fewer than {@link #heads()}). */
    public int kvHeads() {
        return nKvHeads != null ? nKvHeads : heads();
    }

    /** Values per head. */
    public int headDimension() {
        return headDim != null ? headDim : dim / heads();
    }

    /** SwiGLU hidden size, the reference's rule: {@code h = int(2·4d/3); h = int(mult·h); round h up to multiple_of}. */
    public int ffnHidden() {
        return ffnHidden(dim, ffnDimMultiplier, multipleOf);
    }

    public static int ffnHidden(int dim, Double multiplier, int multipleOf) {
        int h = (int) (2 * (4 * dim) / 3.0);
        if (multiplier != null) h = (int) (multiplier * h);
        return multipleOf * ((h + multipleOf - 1) / multipleOf);
    }

    /** Whether attention segments end at EOS. */
    public boolean eosSegments() {
        return !attnBiasType.equals("causal");
    }

    /** Reads a config: a bare object, or the reference hub form {@code {"args": {...}}}. */
    public static ByteLmConfig fromJson(JsonNode node, String what) {
        if (node == null || !node.isObject()) throw new PatchworkException(what + ": expected a JSON object");
        if (node.has("args") && node.size() == 1) node = node.get("args");
        return Json.bind(node, ByteLmConfig.class, what);
    }

    public static ByteLmConfig read(Path file) {
        return fromJson(Json.readTree(file), file.toString());
    }

    /** The hub form {@code {"args": {...}}} that the reference's {@code from_pretrained} reads. */
    public String toJson() {
        return Json.write(java.util.Map.of("args", this));
    }
}

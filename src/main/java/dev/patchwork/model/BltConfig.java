package dev.patchwork.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.patchwork.layers.HashNgramEmbedding;
import dev.patchwork.util.Json;
import dev.patchwork.util.PatchworkException;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Configuration of a Byte Latent Transformer with the field names of the reference's {@code ByteLatentTransformerArgs}
 * (spec §2, §5), so a reference hub {@code config.json} ({@code {"args": {...}}}) loads as is and ours loads in the
 * reference.
 *
 * <p>Missing fields take the reference's defaults, except where that default is an architecture Patchwork does not
 * build; those default to the released BLT's choice: {@code vocab_size} 260, {@code attn_bias_type} block_causal,
 * {@code cross_attn_encoder}, {@code cross_attn_decoder}, {@code cross_attn_init_by_pooling} and
 * {@code use_local_encoder_transformer} true, {@code downsampling_by_pooling} max, {@code patching_mode} entropy,
 * {@code max_encoder_seq_length} 24576. {@code cross_attn_k} and {@code cross_attn_nheads} have no usable default and
 * must be set.
 *
 * <p>The reference has many fields that change nothing in this model (logging, parallelism, recomputation, flags
 * of code paths it never takes): they are listed in {@link #INERT_FIELDS}, accepted, kept verbatim and written back.
 * An unknown field is an error. Settings the reference allows but Patchwork does not implement (e.g.
 * {@code cross_attn_init_by_pooling=false}, average pooling, dropout) are refused with a message naming the field.
 */
public record BltConfig(
        int dimGlobal, int dimLocalEncoder, int dimLocalDecoder,
        int nLayersGlobal, int nLayersLocalEncoder, int nLayersLocalDecoder,
        int nHeadsGlobal, int nHeadsLocalEncoder, int nHeadsLocalDecoder,
        Integer nKvHeads, Integer nKvHeadsGlobal, Integer headDim,
        boolean crossAttnEncoder, boolean crossAttnDecoder, Integer crossAttnK, Integer crossAttnNheads,
        boolean crossAttnAllLayersEncoder, boolean crossAttnAllLayersDecoder, boolean crossAttnInitByPooling,
        Integer crossAttnWindowEncoder, Integer crossAttnWindowDecoder, String downsamplingByPooling,
        List<Integer> encoderHashByteGroupSize, int encoderHashByteGroupNbFunctions, int encoderHashByteGroupVocab,
        Integer localAttentionWindowLen, double ropeTheta, int maxSeqlen, int maxEncoderSeqLength,
        int multipleOf, Double ffnDimMultiplier, double normEps,
        Double initBaseStd, String initStdFactor, long seed, int vocabSize, int eosId, String attnBiasType,
        String patchingMode, Double patchingThreshold, Double patchingThresholdAdd, Double patchSize,
        Integer maxPatchLength, boolean monotonicity,
        boolean useLocalEncoderTransformer, boolean useRope, String nonLinearity, String normType, boolean preNorm,
        boolean normAffine, double dropout, Integer dimToken, int pmSize, boolean encoderEnableByteNgrams,
        Map<String, JsonNode> inert) {

    /**
     * Reference fields that do not change this model: the top-level {@code dim}/{@code n_heads}/{@code n_layers}
     * (the reference builds the three parts from the {@code *_global}/{@code *_local_*} fields), the sub-module
     * widths it overwrites ({@code dim_token_emb}, {@code dim_patch_emb}), the patcher's run-time switches,
     * implementation and logging switches, and fields of code paths the BLT forward never takes.
     */
    public static final Set<String> INERT_FIELDS = Set.of(
            "alpha_depth", "architecture", "attn_impl", "attn_to_keep", "conv_kernel_size",
            "cross_attn_use_flex_attention", "custom_bwd", "dim", "dim_patch_emb", "dim_token_emb", "n_heads",
            "n_layers", "encoder_enable_byte_group_hash", "encoder_lm_loss", "encoder_ngram_table_dir",
            "encoder_ngram_to_size_str", "encoder_preds_low_entropy_toks", "encoder_preds_random_toks",
            "entropy_model_checkpoint_dir", "entropy_model_is_ngram_model", "full_logging_n_layers",
            "fuse_sequence_parallel", "global_local_decoder_residual_layer", "init_use_depth", "init_use_gaussian",
            "layer_ckpt", "log_patch_lengths", "loss_parallel", "max_length", "ngram_vocab_sizes", "output_size",
            "pad_to_max_length", "patch_in_forward", "patching_batch_size", "patching_device",
            "patching_thresholds_str", "recompute_attn", "recompute_fc1_out", "recompute_fc3_out",
            "rope_use_fp32_in_outer_product", "sequence_parallel", "share_encoder_decoder_emb",
            "tie_local_encoder_decoder", "tie_local_encoder_decoder_logits", "tokenize_with_bpe_delimiter", "use_fsdp",
            "weight_tying", "init_device", "init_dtype");

    static final Set<String> INIT_STD_FACTORS = Set.of("disabled", "global_depth", "current_depth", "dim_ratio");
    static final Set<String> PATCHING_MODES = Set.of("entropy", "bpe", "bpe_patcher", "space", "static", "byte");
    static final Set<String> GLOBAL_BIAS_TYPES = Set.of("block_causal", "causal");

    public BltConfig {
        inert = Collections.unmodifiableMap(new TreeMap<>(inert == null ? Map.of() : inert));
        for (String name : inert.keySet())
            if (!INERT_FIELDS.contains(name)) throw new IllegalArgumentException("unknown field '" + name + "'");
        encoderHashByteGroupSize = encoderHashByteGroupSize == null ? null : List.copyOf(encoderHashByteGroupSize);

        positive("dim_global", dimGlobal);
        positive("dim_local_encoder", dimLocalEncoder);
        positive("dim_local_decoder", dimLocalDecoder);
        positive("n_layers_global", nLayersGlobal);
        positive("n_layers_local_encoder", nLayersLocalEncoder);
        positive("n_layers_local_decoder", nLayersLocalDecoder);
        int hdE = heads("n_heads_local_encoder", nHeadsLocalEncoder, "dim_local_encoder", dimLocalEncoder, headDim);
        int hdD = heads("n_heads_local_decoder", nHeadsLocalDecoder, "dim_local_decoder", dimLocalDecoder, headDim);
        int hdG = heads("n_heads_global", nHeadsGlobal, "dim_global", dimGlobal, headDim);
        if (hdE % 2 != 0 || hdD % 2 != 0 || hdG % 2 != 0)
            throw new IllegalArgumentException("head dimensions must be even for RoPE; got encoder " + hdE
                    + ", decoder " + hdD + ", global " + hdG + " (set n_heads_* or head_dim)");
        kvHeads("n_kv_heads", nKvHeads, "n_heads_local_encoder", nHeadsLocalEncoder);
        kvHeads("n_kv_heads", nKvHeads, "n_heads_local_decoder", nHeadsLocalDecoder);
        kvHeads("n_kv_heads_global", nKvHeadsGlobal, "n_heads_global", nHeadsGlobal);

        notSupported("cross_attn_encoder", !crossAttnEncoder, "false", "the encoder must pool bytes into patches by cross-attention; set it to true");
        notSupported("cross_attn_decoder", !crossAttnDecoder, "false", "set it to true");
        notSupported("cross_attn_init_by_pooling", !crossAttnInitByPooling, "false", "set it to true");
        notSupported("use_local_encoder_transformer", !useLocalEncoderTransformer, "false", "set it to true");
        if (crossAttnK == null) throw new IllegalArgumentException("cross_attn_k must be set (patch vectors are split into k queries; the released BLT-1B uses 2)");
        positive("cross_attn_k", crossAttnK);
        if (crossAttnNheads == null) throw new IllegalArgumentException("cross_attn_nheads must be set (heads of the cross-attention layers)");
        positive("cross_attn_nheads", crossAttnNheads);
        if (dimLocalEncoder % crossAttnNheads != 0)
            throw new IllegalArgumentException("cross_attn_nheads (" + crossAttnNheads + ") must divide dim_local_encoder (" + dimLocalEncoder + ")");
        if (dimLocalEncoder != dimLocalDecoder)
            throw new IllegalArgumentException("dim_local_decoder (" + dimLocalDecoder + ") must equal dim_local_encoder ("
                    + dimLocalEncoder + "): the decoder starts from the encoder's byte states (as in the reference)");
        if (dimGlobal == dimLocalDecoder && crossAttnK != 1)
            throw new IllegalArgumentException("cross_attn_k = " + crossAttnK + " needs dim_global != dim_local_decoder: "
                    + "the reference creates the decoder's patch projection (dim_global -> k*dim_local) only when the widths differ;"
                    + " change one of them or set cross_attn_k to 1");
        optionalPositive("cross_attn_window_encoder", crossAttnWindowEncoder);
        optionalPositive("cross_attn_window_decoder", crossAttnWindowDecoder);
        if (!"max".equals(downsamplingByPooling))
            throw new IllegalArgumentException("downsampling_by_pooling '" + downsamplingByPooling
                    + "' is not supported: only \"max\" (the released BLT's) is implemented");

        if (encoderHashByteGroupSize != null)
            for (int n : encoderHashByteGroupSize)
                if (n < 1) throw new IllegalArgumentException("encoder_hash_byte_group_size entries must be >= 1, got " + n);
        if (encoderHashByteGroupNbFunctions < 0 || encoderHashByteGroupNbFunctions > HashNgramEmbedding.PRIMES.length)
            throw new IllegalArgumentException("encoder_hash_byte_group_nb_functions must be in [0, "
                    + HashNgramEmbedding.PRIMES.length + "] (one prime per function), got " + encoderHashByteGroupNbFunctions);
        positive("encoder_hash_byte_group_vocab", encoderHashByteGroupVocab);

        optionalPositive("local_attention_window_len", localAttentionWindowLen);
        if (!(ropeTheta > 0)) throw new IllegalArgumentException("rope_theta must be > 0, got " + ropeTheta);
        positive("max_seqlen", maxSeqlen);
        positive("max_encoder_seq_length", maxEncoderSeqLength);
        positive("multiple_of", multipleOf);
        if (ffnDimMultiplier != null && !(ffnDimMultiplier > 0))
            throw new IllegalArgumentException("ffn_dim_multiplier must be > 0, got " + ffnDimMultiplier);
        if (!(normEps > 0)) throw new IllegalArgumentException("norm_eps must be > 0, got " + normEps);
        if (initBaseStd != null && !(initBaseStd > 0))
            throw new IllegalArgumentException("init_base_std must be > 0, got " + initBaseStd);
        if (!INIT_STD_FACTORS.contains(initStdFactor))
            throw new IllegalArgumentException("init_std_factor must be one of " + INIT_STD_FACTORS + ", got '" + initStdFactor + "'");
        if (vocabSize < 5) throw new IllegalArgumentException("vocab_size must be at least 5 (4 special ids + bytes), got " + vocabSize);
        if (eosId < 0 || eosId >= vocabSize) throw new IllegalArgumentException("eos_id must be in [0, vocab_size), got " + eosId);
        if (!GLOBAL_BIAS_TYPES.contains(attnBiasType))
            throw new IllegalArgumentException("attn_bias_type (of the global model) must be one of " + GLOBAL_BIAS_TYPES
                    + ", got '" + attnBiasType + "'");

        if ("".equals(patchingMode))
            throw new IllegalArgumentException("patching_mode \"\" (MegaByte-style BOE padding in front of the encoder input) is not supported; use \"static\"");
        if (patchingMode != null && !PATCHING_MODES.contains(patchingMode))
            throw new IllegalArgumentException("patching_mode must be one of " + PATCHING_MODES + ", got '" + patchingMode + "'");
        if (patchSize != null && !(patchSize > 0)) throw new IllegalArgumentException("patch_size must be > 0, got " + patchSize);
        optionalPositive("max_patch_length", maxPatchLength);

        notSupported("use_rope", !useRope, "false", "set it to true");
        notSupported("non_linearity", !"swiglu".equals(nonLinearity), "'" + nonLinearity + "'", "use \"swiglu\"");
        notSupported("norm_type", !"rmsnorm".equals(normType), "'" + normType + "'", "use \"rmsnorm\"");
        notSupported("pre_norm", !preNorm, "false", "set it to true");
        notSupported("norm_affine", !normAffine, "false", "set it to true");
        notSupported("dropout", dropout != 0, String.valueOf(dropout), "set it to 0");
        notSupported("dim_token", dimToken != null && dimToken != dimLocalEncoder, String.valueOf(dimToken),
                "remove it or set it to null (token embeddings have the encoder's width)");
        notSupported("pm_size", pmSize != 0, String.valueOf(pmSize), "set it to 0");
        notSupported("encoder_enable_byte_ngrams", encoderEnableByteNgrams, "true",
                "set it to false (the hash n-gram embeddings, encoder_hash_byte_group_size, are supported)");
    }

    private static void positive(String field, int v) {
        if (v <= 0) throw new IllegalArgumentException(field + " must be > 0, got " + v);
    }

    private static void optionalPositive(String field, Integer v) {
        if (v != null && v <= 0) throw new IllegalArgumentException(field + " must be > 0 or null, got " + v);
    }

    /** Validates a module's head count and returns its head dimension. */
    private static int heads(String headsField, int heads, String dimField, int dim, Integer headDim) {
        positive(headsField, heads);
        if (headDim != null) {
            positive("head_dim", headDim);
            return headDim;
        }
        if (dim % heads != 0)
            throw new IllegalArgumentException(headsField + " (" + heads + ") must divide " + dimField + " (" + dim + ")");
        return dim / heads;
    }

    private static void kvHeads(String field, Integer kv, String headsField, int heads) {
        if (kv != null && (kv <= 0 || heads % kv != 0))
            throw new IllegalArgumentException(field + " (" + kv + ") must divide " + headsField + " (" + heads + ")");
    }

    private static void notSupported(String field, boolean unsupported, String value, String fix) {
        if (unsupported) throw new IllegalArgumentException(field + "=" + value + " is not supported: " + fix);
    }

    // ---- derived sizes -------------------------------------------------------------------------------------------

    public int encoderHeadDim() {
        return headDim != null ? headDim : dimLocalEncoder / nHeadsLocalEncoder;
    }

    public int decoderHeadDim() {
        return headDim != null ? headDim : dimLocalDecoder / nHeadsLocalDecoder;
    }

    public int globalHeadDim() {
        return headDim != null ? headDim : dimGlobal / nHeadsGlobal;
    }

    /** Key/value heads of the local models. */
    public int localKvHeads(int heads) {
        return nKvHeads != null ? nKvHeads : heads;
    }

    public int globalKvHeads() {
        return nKvHeadsGlobal != null ? nKvHeadsGlobal : nHeadsGlobal;
    }

    /** SwiGLU hidden size of a module of width {@code dim} (the reference's rule, {@link ByteLmConfig#ffnHidden}). */
    public int ffnHidden(int dim) {
        return ByteLmConfig.ffnHidden(dim, ffnDimMultiplier, multipleOf);
    }

    /** Width of the global model's input: the k pooled vectors of a patch side by side. */
    public int globalInputDim() {
        return crossAttnK * dimLocalEncoder;
    }

    /** The global model starts with {@code token_embedding_projection} when its input width differs from its own. */
    public boolean hasGlobalProjection() {
        return globalInputDim() != dimGlobal;
    }

    /** The decoder maps global outputs to k byte-width vectors when the widths differ (the reference's rule). */
    public boolean hasDecoderProjection() {
        return dimGlobal != dimLocalDecoder;
    }

    /** The n-gram sizes of the hash embeddings (empty: none). */
    public List<Integer> hashSizes() {
        return encoderHashByteGroupSize == null ? List.of() : encoderHashByteGroupSize;
    }

    /** Number of hash embedding tables: functions × n-gram sizes. */
    public int hashTables() {
        return encoderHashByteGroupNbFunctions * hashSizes().size();
    }

    /** Sliding window of the local models, 0 for none. */
    public int localWindow() {
        return localAttentionWindowLen == null ? 0 : localAttentionWindowLen;
    }

    /** Whether the global model's attention stops at patches that hold an EOS. */
    public boolean globalEosSegments() {
        return attnBiasType.equals("block_causal");
    }

    // ---- JSON ----------------------------------------------------------------------------------------------------

    /** Reads a config: a bare object, or the reference hub form {@code {"args": {...}}}. */
    public static BltConfig fromJson(JsonNode node, String what) {
        if (node == null || !node.isObject()) throw new PatchworkException(what + ": expected a JSON object");
        if (node.has("args") && node.size() == 1) node = node.get("args");
        if (!node.isObject()) throw new PatchworkException(what + ": \"args\" must be a JSON object");
        try {
            return parse(new Fields((ObjectNode) node));
        } catch (IllegalArgumentException e) {
            throw new PatchworkException(what + ": " + e.getMessage());
        }
    }

    public static BltConfig read(Path file) {
        return fromJson(Json.readTree(file), file.toString());
    }

    private static BltConfig parse(Fields f) {
        BltConfig c = new BltConfig(
                f.integer("dim_global", 512), f.integer("dim_local_encoder", 512), f.integer("dim_local_decoder", 512),
                f.integer("n_layers_global", 8), f.integer("n_layers_local_encoder", 8), f.integer("n_layers_local_decoder", 8),
                f.integer("n_heads_global", 8), f.integer("n_heads_local_encoder", 8), f.integer("n_heads_local_decoder", 8),
                f.optionalInteger("n_kv_heads"), f.optionalInteger("n_kv_heads_global"), f.optionalInteger("head_dim"),
                f.bool("cross_attn_encoder", true), f.bool("cross_attn_decoder", true),
                f.optionalInteger("cross_attn_k"), f.optionalInteger("cross_attn_nheads"),
                f.bool("cross_attn_all_layers_encoder", false), f.bool("cross_attn_all_layers_decoder", false),
                f.bool("cross_attn_init_by_pooling", true),
                f.optionalInteger("cross_attn_window_encoder"), f.optionalInteger("cross_attn_window_decoder"),
                f.string("downsampling_by_pooling", "max"),
                f.sizes("encoder_hash_byte_group_size"), f.integer("encoder_hash_byte_group_nb_functions", 3),
                f.integer("encoder_hash_byte_group_vocab", 30000),
                f.optionalInteger("local_attention_window_len"), f.number("rope_theta", 10000.0),
                f.integer("max_seqlen", 1024), f.integer("max_encoder_seq_length", 24576),
                f.integer("multiple_of", 256), f.optionalNumber("ffn_dim_multiplier", 1.0), f.number("norm_eps", 1e-5),
                f.optionalNumber("init_base_std", null), f.string("init_std_factor", "disabled"),
                f.longInteger("seed", 42), f.integer("vocab_size", 260), f.integer("eos_id", 2),
                f.string("attn_bias_type", "block_causal"),
                f.optionalString("patching_mode", "entropy"), f.optionalNumber("patching_threshold", null),
                f.optionalNumber("patching_threshold_add", null), f.optionalNumber("patch_size", null),
                f.optionalInteger("max_patch_length"), f.bool("monotonicity", false),
                f.bool("use_local_encoder_transformer", true), f.bool("use_rope", true),
                f.string("non_linearity", "swiglu"), f.string("norm_type", "rmsnorm"), f.bool("pre_norm", true),
                f.bool("norm_affine", true), f.number("dropout", 0.0), f.optionalInteger("dim_token"),
                f.integer("pm_size", 0), f.bool("encoder_enable_byte_ngrams", false),
                f.rest());
        return c;
    }

    /** The hub form {@code {"args": {...}}} with sorted keys, every field written (inert ones as they were read). */
    public String toJson() {
        JsonNodeFactory n = JsonNodeFactory.instance;
        Map<String, JsonNode> m = new TreeMap<>(inert);
        m.put("dim_global", n.numberNode(dimGlobal));
        m.put("dim_local_encoder", n.numberNode(dimLocalEncoder));
        m.put("dim_local_decoder", n.numberNode(dimLocalDecoder));
        m.put("n_layers_global", n.numberNode(nLayersGlobal));
        m.put("n_layers_local_encoder", n.numberNode(nLayersLocalEncoder));
        m.put("n_layers_local_decoder", n.numberNode(nLayersLocalDecoder));
        m.put("n_heads_global", n.numberNode(nHeadsGlobal));
        m.put("n_heads_local_encoder", n.numberNode(nHeadsLocalEncoder));
        m.put("n_heads_local_decoder", n.numberNode(nHeadsLocalDecoder));
        m.put("n_kv_heads", n.numberNode(nKvHeads));
        m.put("n_kv_heads_global", n.numberNode(nKvHeadsGlobal));
        m.put("head_dim", n.numberNode(headDim));
        m.put("cross_attn_encoder", n.booleanNode(crossAttnEncoder));
        m.put("cross_attn_decoder", n.booleanNode(crossAttnDecoder));
        m.put("cross_attn_k", n.numberNode(crossAttnK));
        m.put("cross_attn_nheads", n.numberNode(crossAttnNheads));
        m.put("cross_attn_all_layers_encoder", n.booleanNode(crossAttnAllLayersEncoder));
        m.put("cross_attn_all_layers_decoder", n.booleanNode(crossAttnAllLayersDecoder));
        m.put("cross_attn_init_by_pooling", n.booleanNode(crossAttnInitByPooling));
        m.put("cross_attn_window_encoder", n.numberNode(crossAttnWindowEncoder));
        m.put("cross_attn_window_decoder", n.numberNode(crossAttnWindowDecoder));
        m.put("downsampling_by_pooling", n.textNode(downsamplingByPooling));
        if (encoderHashByteGroupSize == null) m.put("encoder_hash_byte_group_size", n.nullNode());
        else {
            ArrayNode sizes = n.arrayNode();
            encoderHashByteGroupSize.forEach(sizes::add);
            m.put("encoder_hash_byte_group_size", sizes);
        }
        m.put("encoder_hash_byte_group_nb_functions", n.numberNode(encoderHashByteGroupNbFunctions));
        m.put("encoder_hash_byte_group_vocab", n.numberNode(encoderHashByteGroupVocab));
        m.put("local_attention_window_len", n.numberNode(localAttentionWindowLen));
        m.put("rope_theta", n.numberNode(ropeTheta));
        m.put("max_seqlen", n.numberNode(maxSeqlen));
        m.put("max_encoder_seq_length", n.numberNode(maxEncoderSeqLength));
        m.put("multiple_of", n.numberNode(multipleOf));
        m.put("ffn_dim_multiplier", n.numberNode(ffnDimMultiplier));
        m.put("norm_eps", n.numberNode(normEps));
        m.put("init_base_std", n.numberNode(initBaseStd));
        m.put("init_std_factor", n.textNode(initStdFactor));
        m.put("seed", n.numberNode(seed));
        m.put("vocab_size", n.numberNode(vocabSize));
        m.put("eos_id", n.numberNode(eosId));
        m.put("attn_bias_type", n.textNode(attnBiasType));
        m.put("patching_mode", n.textNode(patchingMode));
        m.put("patching_threshold", n.numberNode(patchingThreshold));
        m.put("patching_threshold_add", n.numberNode(patchingThresholdAdd));
        m.put("patch_size", n.numberNode(patchSize));
        m.put("max_patch_length", n.numberNode(maxPatchLength));
        m.put("monotonicity", n.booleanNode(monotonicity));
        m.put("use_local_encoder_transformer", n.booleanNode(useLocalEncoderTransformer));
        m.put("use_rope", n.booleanNode(useRope));
        m.put("non_linearity", n.textNode(nonLinearity));
        m.put("norm_type", n.textNode(normType));
        m.put("pre_norm", n.booleanNode(preNorm));
        m.put("norm_affine", n.booleanNode(normAffine));
        m.put("dropout", n.numberNode(dropout));
        m.put("dim_token", n.numberNode(dimToken));
        m.put("pm_size", n.numberNode(pmSize));
        m.put("encoder_enable_byte_ngrams", n.booleanNode(encoderEnableByteNgrams));
        ObjectNode args = n.objectNode();
        m.forEach(args::set);
        ObjectNode root = n.objectNode();
        root.set("args", args);
        return Json.write(root);
    }

    /**
     * Typed access to the fields of a JSON object; every read removes the field, so what is left at the end
     * ({@link #rest}) is the inert or unknown fields. Messages name the field.
     */
    private static final class Fields {
        private final Map<String, JsonNode> left = new TreeMap<>();

        Fields(ObjectNode node) {
            for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
                var e = it.next();
                left.put(e.getKey(), e.getValue());
            }
        }

        private JsonNode take(String name) {
            JsonNode v = left.remove(name);
            return v == null || v.isNull() ? null : v;
        }

        int integer(String name, int dflt) {
            Integer v = optionalInteger(name);
            return v == null ? dflt : v;
        }

        Integer optionalInteger(String name) {
            JsonNode v = take(name);
            if (v == null) return null;
            if (!v.isIntegralNumber() || !v.canConvertToInt())
                throw new IllegalArgumentException(name + " must be an integer, got " + v);
            return v.intValue();
        }

        long longInteger(String name, long dflt) {
            JsonNode v = take(name);
            if (v == null) return dflt;
            if (!v.isIntegralNumber() || !v.canConvertToLong())
                throw new IllegalArgumentException(name + " must be an integer, got " + v);
            return v.longValue();
        }

        double number(String name, double dflt) {
            Double v = optionalNumber(name, null);
            return v == null ? dflt : v;
        }

        /** A number that may be explicitly null (then null, not the default). */
        Double optionalNumber(String name, Double dflt) {
            if (!left.containsKey(name)) return dflt;
            JsonNode v = take(name);
            if (v == null) return null;
            if (!v.isNumber()) throw new IllegalArgumentException(name + " must be a number, got " + v);
            return v.doubleValue();
        }

        boolean bool(String name, boolean dflt) {
            JsonNode v = take(name);
            if (v == null) return dflt;
            if (!v.isBoolean()) throw new IllegalArgumentException(name + " must be true or false, got " + v);
            return v.booleanValue();
        }

        String string(String name, String dflt) {
            JsonNode v = take(name);
            if (v == null) return dflt;
            if (!v.isTextual()) throw new IllegalArgumentException(name + " must be a string, got " + v);
            return v.textValue();
        }

        /** A string that may be explicitly null (then null, not the default). */
        String optionalString(String name, String dflt) {
            return left.containsKey(name) ? string(name, null) : dflt;
        }

        /** A list of n-gram sizes, or (like the reference's validator) a comma-separated string of them. */
        List<Integer> sizes(String name) {
            JsonNode v = take(name);
            if (v == null) return null;
            List<Integer> out = new ArrayList<>();
            if (v.isTextual()) {
                for (String s : v.textValue().split(",")) {
                    if (s.isEmpty()) continue;
                    try {
                        out.add(Integer.parseInt(s.trim()));
                    } catch (NumberFormatException e) {
                        throw new IllegalArgumentException(name + " must list integers, got '" + v.textValue() + "'");
                    }
                }
                return out;
            }
            if (!v.isArray()) throw new IllegalArgumentException(name + " must be a list of integers, got " + v);
            for (JsonNode e : v) {
                if (!e.isIntegralNumber() || !e.canConvertToInt())
                    throw new IllegalArgumentException(name + " must be a list of integers, got " + v);
                out.add(e.intValue());
            }
            return out;
        }

        /** The fields not read: each must be a known inert field of the reference. */
        Map<String, JsonNode> rest() {
            for (String name : left.keySet())
                if (!INERT_FIELDS.contains(name))
                    throw new IllegalArgumentException("unknown field '" + name + "' (not a ByteLatentTransformerArgs field "
                            + "Patchwork knows; check the spelling)");
            return left;
        }
    }
}

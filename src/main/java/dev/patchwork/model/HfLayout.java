package dev.patchwork.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.patchwork.io.Checkpoint;
import dev.patchwork.io.HfNames;
import dev.patchwork.io.HfTensorSource;
import dev.patchwork.io.SafetensorsFile;
import dev.patchwork.io.WeightStorage;
import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.util.Json;
import dev.patchwork.util.PatchworkException;

import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A BLT in the Hugging Face transformers layout (the port's {@code convert_blt_weights_to_hf.py}):
 * <pre>
 *   config.json        {"model_type": "blt", ..., "patcher_config", "encoder_config", "decoder_config", "global_config"}
 *   model.safetensors  BLT tensors under HF names ({@link HfNames}), the entropy model under model.patcher.*
 * </pre>
 * The HF config's fields are derived from the reference's and cannot be turned back into them exactly (it drops
 * e.g. {@code multiple_of}, {@code cross_attn_nheads}, the local attention window), so Patchwork writes the
 * reference arguments next to them, under {@value #REFERENCE_KEY} ({@code {"args": ..., "entropy_args": ...}}); that
 * is what it reads back. A directory written by the transformers converter itself lacks that key; its reference
 * arguments are then derived from the HF fields ({@link #fromHfConfig}).
 */
public final class HfLayout {
    /** Key of config.json holding the exact reference arguments. */
    public static final String REFERENCE_KEY = "patchwork_reference";
    public static final String MODEL_TYPE = "blt";

    private HfLayout() {}

    /** Whether {@code dir} holds an HF-layout BLT: a config.json with {@code "model_type": "blt"}. */
    public static boolean isHf(Path dir) {
        Path config = dir.resolve(Checkpoint.CONFIG_FILE);
        if (!Files.isRegularFile(config)) return false;
        JsonNode n = Json.readTree(config);
        return n != null && MODEL_TYPE.equals(n.path("model_type").asText(null)) && !n.has("args");
    }

    /**
     * The reference arguments of {@code dir}'s config.json: those Patchwork wrote under {@value #REFERENCE_KEY}, or,
     * for a config made by the transformers converter, arguments derived from its HF fields ({@link #fromHfConfig}).
     */
    private static JsonNode reference(Path dir) {
        Path file = dir.resolve(Checkpoint.CONFIG_FILE);
        JsonNode config = Json.readTree(file);
        JsonNode ref = config.path(REFERENCE_KEY);
        if (ref.path("args").isObject()) return ref;
        try {
            return fromHfConfig(config);
        } catch (IllegalArgumentException e) {
            throw new PatchworkException(file + ": " + e.getMessage());
        }
    }

    /**
     * Reference arguments ({@code {"args", "entropy_args"}}) from the fields of an HF BLT config, the inverse of what
     * {@code convert_blt_weights_to_hf.py} derives. The HF config drops some reference fields; they are filled in as
     * the released models have them (spec §2): cross-attention heads = the local encoder's heads (as the HF port
     * does), the local models' attention window 512 and the entropy model's sliding window 512, and
     * {@code multiple_of} chosen so that the reference's FFN rule gives each sub-config's {@code intermediate_size}.
     *
     * <p>About the windows: the HF sub-configs have no window field, and the port's modeling code builds plain causal
     * masks ({@code create_causal_mask} on configs without {@code sliding_window}) for the patcher and the local
     * models, so the port attends without a window. The released weights were trained with the reference's windows
     * (512), which Patchwork keeps; the two agree whenever a sequence holds at most 512 bytes.
     */
    static JsonNode fromHfConfig(JsonNode hf) {
        JsonNodeFactory f = JsonNodeFactory.instance;
        JsonNode enc = object(hf, "encoder_config"), dec = object(hf, "decoder_config"), glob = object(hf, "global_config");
        ObjectNode a = f.objectNode();
        a.put("dim_global", required(glob, "hidden_size")).put("dim_local_encoder", required(enc, "hidden_size"))
                .put("dim_local_decoder", required(dec, "hidden_size"));
        a.put("n_layers_global", required(glob, "num_hidden_layers")).put("n_layers_local_encoder", required(enc, "num_hidden_layers"))
                .put("n_layers_local_decoder", required(dec, "num_hidden_layers"));
        a.put("n_heads_global", required(glob, "num_attention_heads")).put("n_heads_local_encoder", required(enc, "num_attention_heads"))
                .put("n_heads_local_decoder", required(dec, "num_attention_heads"));
        a.set("n_kv_heads", orNull(enc, "num_key_value_heads"));
        a.set("n_kv_heads_global", orNull(glob, "num_key_value_heads"));
        a.put("cross_attn_encoder", true).put("cross_attn_decoder", true).put("cross_attn_init_by_pooling", true);
        a.put("cross_attn_k", hf.path("cross_attn_k").asInt(2)).put("cross_attn_nheads", required(enc, "num_attention_heads"));
        a.put("cross_attn_all_layers_encoder", enc.path("cross_attn_all_layers").asBoolean(false));
        a.put("cross_attn_all_layers_decoder", dec.path("cross_attn_all_layers").asBoolean(true));
        a.put("downsampling_by_pooling", "max");
        a.set("encoder_hash_byte_group_size", hf.has("encoder_hash_byte_group_size") && !hf.get("encoder_hash_byte_group_size").isNull()
                ? hf.get("encoder_hash_byte_group_size").deepCopy() : f.arrayNode().add(3).add(4).add(5).add(6).add(7).add(8));
        a.put("encoder_hash_byte_group_nb_functions", hf.path("encoder_hash_byte_group_nb_functions").asInt(1));
        a.put("encoder_hash_byte_group_vocab", hf.path("encoder_hash_byte_group_vocab").asInt(500002));
        a.put("local_attention_window_len", 512);
        a.put("rope_theta", ropeTheta(glob, 500000.0));
        a.put("max_seqlen", hf.path("max_position_embeddings").asInt(glob.path("max_position_embeddings").asInt(4096)));
        a.put("max_encoder_seq_length", enc.path("max_position_embeddings").asInt(24576));
        a.put("multiple_of", multipleOf(new JsonNode[]{enc, dec, glob}));
        a.put("ffn_dim_multiplier", 1.0);
        a.put("norm_eps", normEps(glob));
        a.put("vocab_size", hf.path("vocab_size").asInt(260)).put("eos_id", 2).put("attn_bias_type", "block_causal");
        a.put("patching_mode", hf.path("patching_mode").asText("entropy"));
        a.set("patching_threshold", orNull(hf, "patching_threshold"));
        a.set("max_patch_length", orNull(hf, "max_patch_length"));
        a.put("monotonicity", hf.path("monotonicity").asBoolean(false));
        a.put("pm_size", hf.path("pm_size").asInt(0));
        ObjectNode ref = f.objectNode();
        ref.set("args", a);
        JsonNode p = hf.path("patcher_config");
        if (p.isObject()) {
            ObjectNode e = ref.putObject("entropy_args");
            e.put("dim", required(p, "hidden_size")).put("n_layers", required(p, "num_hidden_layers")).put("n_heads", required(p, "num_attention_heads"));
            e.set("n_kv_heads", orNull(p, "num_key_value_heads"));
            e.put("max_seqlen", p.path("max_position_embeddings").asInt(8192)).put("sliding_window", 512);
            e.put("rope_theta", ropeTheta(p, 10000.0)).put("norm_eps", normEps(p)).put("vocab_size", p.path("vocab_size").asInt(260));
            e.put("multiple_of", multipleOf(new JsonNode[]{p})).put("ffn_dim_multiplier", 1.0);
        }
        return ref;
    }

    private static JsonNode object(JsonNode hf, String key) {
        if (!hf.path(key).isObject()) throw new IllegalArgumentException("a Hugging Face BLT config needs the object " + key);
        return hf.get(key);
    }

    private static int required(JsonNode n, String key) {
        if (!n.path(key).canConvertToInt()) throw new IllegalArgumentException("a Hugging Face BLT sub-config lacks the integer " + key);
        return n.get(key).asInt();
    }

    /** {@code rope_theta}, or {@code rope_parameters.rope_theta} (newer transformers), else the class default. */
    private static double ropeTheta(JsonNode c, double otherwise) {
        if (c.path("rope_theta").isNumber()) return c.get("rope_theta").asDouble();
        return c.path("rope_parameters").path("rope_theta").asDouble(otherwise);
    }

    private static double normEps(JsonNode c) {
        return c.path("norm_eps").isNumber() ? c.get("norm_eps").asDouble() : c.path("rms_norm_eps").asDouble(1e-5);
    }

    /**
     * A {@code multiple_of} for which the reference's FFN rule gives every sub-config's intermediate_size: the usual
     * 256 and its halves first, then the divisors of the sizes' greatest common divisor, largest first.
     */
    private static int multipleOf(JsonNode[] subConfigs) {
        int gcd = 0;
        for (JsonNode c : subConfigs) if (c.path("intermediate_size").canConvertToInt()) gcd = gcd(gcd, c.get("intermediate_size").asInt());
        List<Integer> candidates = new ArrayList<>(List.of(256, 128, 64, 32, 16, 8));
        for (int m = gcd; m >= 1; m--) if (gcd % m == 0) candidates.add(m);
        for (int m : candidates) {
            boolean fits = true;
            for (JsonNode c : subConfigs)
                if (c.has("intermediate_size") && ByteLmConfig.ffnHidden(required(c, "hidden_size"), 1.0, m) != c.get("intermediate_size").asInt())
                    fits = false;
            if (fits) return m;
        }
        throw new IllegalArgumentException("no multiple_of makes the reference's SwiGLU rule give the sub-configs' intermediate_size");
    }

    private static int gcd(int a, int b) {
        return b == 0 ? a : gcd(b, a % b);
    }

    /** The BLT's reference config in the hub form {@code {"args": ...}}. */
    public static JsonNode bltHubConfig(Path dir) {
        return hub(reference(dir).get("args"));
    }

    /** The entropy model's reference config ({@code {"args": ...}}), if the directory has one. */
    public static Optional<JsonNode> entropyHubConfig(Path dir) {
        JsonNode e = reference(dir).path("entropy_args");
        return e.isObject() ? Optional.of(hub(e)) : Optional.empty();
    }

    private static JsonNode hub(JsonNode args) {
        ObjectNode n = JsonNodeFactory.instance.objectNode();
        n.set("args", args.deepCopy());
        return n;
    }

    /** Loads the BLT tensors of {@code dir}/model.safetensors into {@code params} (reference view names). */
    public static void loadBltWeights(Path dir, ParameterBuffer params) {
        long tables = params.layout().views().stream().filter(v -> HfNames.hashTableIndex(v.name()) >= 0).count();
        try (SafetensorsFile f = Checkpoint.openModel(dir)) {
            HfTensorSource.blt(f, (int) Math.max(1, tables)).loadInto(params);
        }
    }

    /** Loads the entropy model stored in {@code dir} under {@code model.patcher.*}. */
    public static ByteLm loadEntropyModel(Path dir) {
        return loadEntropyModel(dir, WeightStorage.F32);
    }

    /** Loads the entropy model stored in {@code dir} under {@code model.patcher.*}, its weights stored as {@code storage} says. */
    public static ByteLm loadEntropyModel(Path dir, WeightStorage storage) {
        JsonNode config = entropyHubConfig(dir).orElseThrow(() -> new PatchworkException(dir.resolve(Checkpoint.CONFIG_FILE)
                + " has no " + REFERENCE_KEY + ".entropy_args: this Hugging Face directory holds no entropy model"));
        ByteLmConfig cfg = ByteLmConfig.fromJson(config, dir.resolve(Checkpoint.CONFIG_FILE) + " " + REFERENCE_KEY + ".entropy_args");
        if (storage != WeightStorage.F32) {
            SafetensorsFile mapped = SafetensorsFile.open(dir.resolve(Checkpoint.MODEL_FILE), Arena.ofAuto());
            return ByteLm.withParameters(cfg, HfTensorSource.entropy(mapped).load(ByteLm.layoutOf(cfg), "", storage));
        }
        ByteLm model = ByteLm.uninitialised(cfg);
        try (SafetensorsFile f = Checkpoint.openModel(dir)) {
            HfTensorSource.entropy(f).loadInto(model.parameters());
        }
        return model;
    }

    /**
     * The HF config.json for a BLT with reference arguments {@code args}, entropy-model arguments {@code entropyArgs}
     * (or null) and patcher arguments {@code patcherArgs} (or null): the fields {@code convert_blt_weights_to_hf.py}
     * derives, plus the reference arguments under {@value #REFERENCE_KEY}.
     */
    public static ObjectNode config(JsonNode args, JsonNode entropyArgs, JsonNode patcherArgs) {
        JsonNodeFactory f = JsonNodeFactory.instance;
        ObjectNode c = f.objectNode();
        JsonNode p = patcherArgs == null ? f.objectNode() : patcherArgs;
        c.put("model_type", MODEL_TYPE);
        c.set("vocab_size", args.path("vocab_size").isMissingNode() ? f.numberNode(260) : args.get("vocab_size"));
        c.set("max_position_embeddings", orNull(args, "max_seqlen"));
        c.put("patch_in_forward", true);
        c.put("realtime_patching", true);
        c.put("patching_mode", "entropy");
        c.set("patch_size", orNull(p, "patch_size"));
        c.set("patching_threshold", orNull(p, "threshold"));
        c.set("patching_threshold_add", orNull(p, "threshold_add"));
        c.set("max_patch_length", orNull(p, "max_patch_length"));
        c.set("monotonicity", p.has("monotonicity") ? p.get("monotonicity") : f.booleanNode(false));
        for (String k : new String[]{"cross_attn_k", "encoder_hash_byte_group_size", "encoder_hash_byte_group_vocab",
                "encoder_hash_byte_group_nb_functions", "pm_size"})
            c.set(k, orNull(args, k));
        if (entropyArgs != null) c.set("patcher_config", sub(entropyArgs, "dim", "n_layers", "n_heads", "n_kv_heads"));
        c.set("encoder_config", sub(args, "dim_local_encoder", "n_layers_local_encoder", "n_heads_local_encoder", "n_kv_heads"));
        c.set("decoder_config", sub(args, "dim_local_decoder", "n_layers_local_decoder", "n_heads_local_decoder", "n_kv_heads"));
        c.set("global_config", sub(args, "dim_global", "n_layers_global", "n_heads_global", "n_kv_heads_global"));
        c.put("tie_word_embeddings", false);
        ObjectNode ref = c.putObject(REFERENCE_KEY);
        ref.set("args", args.deepCopy());
        if (entropyArgs != null) ref.set("entropy_args", entropyArgs.deepCopy());
        return c;
    }

    /** One sub-config with the HF field names (the intermediate size as the converter computes it). */
    private static ObjectNode sub(JsonNode a, String dim, String layers, String heads, String kvHeads) {
        ObjectNode s = JsonNodeFactory.instance.objectNode();
        int d = a.path(dim).asInt();
        int multiple = a.path("multiple_of").asInt(256);
        s.put("hidden_size", d);
        s.set("num_hidden_layers", orNull(a, layers));
        s.set("num_attention_heads", orNull(a, heads));
        s.set("num_key_value_heads", orNull(a, kvHeads));
        s.put("norm_eps", a.path("norm_eps").asDouble(1e-5));
        s.put("rms_norm_eps", a.path("norm_eps").asDouble(1e-5));
        s.put("rope_theta", a.path("rope_theta").asDouble(10000.0));
        s.putObject("rope_parameters").put("rope_type", "default").put("rope_theta", a.path("rope_theta").asDouble(10000.0));
        s.put("hidden_act", "silu");
        s.put("intermediate_size", multiple * ((8 * d / 3 + multiple - 1) / multiple));
        return s;
    }

    private static JsonNode orNull(JsonNode n, String key) {
        return n.has(key) ? n.get(key).deepCopy() : JsonNodeFactory.instance.nullNode();
    }
}

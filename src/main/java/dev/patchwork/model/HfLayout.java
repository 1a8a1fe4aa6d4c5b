package dev.patchwork.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.patchwork.io.Checkpoint;
import dev.patchwork.io.HfNames;
import dev.patchwork.io.HfTensorSource;
import dev.patchwork.io.SafetensorsFile;
import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.util.Json;
import dev.patchwork.util.PatchworkException;

import java.nio.file.Files;
import java.nio.file.Path;
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
 * is what it reads back. A directory written by the transformers converter itself lacks that key and is refused
 * with a message saying so.
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

    private static JsonNode reference(Path dir) {
        Path file = dir.resolve(Checkpoint.CONFIG_FILE);
        JsonNode ref = Json.readTree(file).path(REFERENCE_KEY);
        if (!ref.path("args").isObject())
            throw new PatchworkException(file + " is a Hugging Face BLT config without the reference arguments Patchwork writes ("
                    + REFERENCE_KEY + ".args); reading configs made by the transformers converter is not supported yet: "
                    + "convert the reference checkpoint with 'patchwork convert --format hf' instead");
        return ref;
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
        JsonNode config = entropyHubConfig(dir).orElseThrow(() -> new PatchworkException(dir.resolve(Checkpoint.CONFIG_FILE)
                + " has no " + REFERENCE_KEY + ".entropy_args: this Hugging Face directory holds no entropy model"));
        ByteLm model = ByteLm.uninitialised(ByteLmConfig.fromJson(config, dir.resolve(Checkpoint.CONFIG_FILE) + " " + REFERENCE_KEY + ".entropy_args"));
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
        s.put("rope_theta", a.path("rope_theta").asDouble(10000.0));
        s.put("hidden_act", "silu");
        s.put("intermediate_size", multiple * ((8 * d / 3 + multiple - 1) / multiple));
        return s;
    }

    private static JsonNode orNull(JsonNode n, String key) {
        return n.has(key) ? n.get(key).deepCopy() : JsonNodeFactory.instance.nullNode();
    }
}

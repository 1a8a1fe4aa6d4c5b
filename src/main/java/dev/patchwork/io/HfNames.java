package dev.patchwork.io;

import java.util.Map;

/**
 * The one place that maps tensor names between the reference implementation and its Hugging Face transformers port
 * ({@code convert_blt_weights_to_hf.py}, checked against that script): every BLT tensor gets the prefix
 * {@code model.}, the entropy model's tensors {@code model.patcher.}, and dot-separated name parts are renamed
 * ({@code attention→self_attn}, {@code wq→q_proj}, {@code feed_forward→mlp}, {@code w1→gate_proj}, ...). Two
 * tensors move: the decoder's output is the top-level {@code lm_head.weight}, and the hash tables
 * {@code encoder_hash_tok_embedding.{i}.weight} are fused into {@link #FUSED_HASH_TABLE}, table i at rows
 * {@code i·rows}. The part renames never produce a reference part, so the map is invertible.
 */
public final class HfNames {
    /** The HF name of the fused hash tables, {@code [tables·rows, d]}. */
    public static final String FUSED_HASH_TABLE = "model.encoder_hash_tok_embedding.weight";
    /** The HF name of the local decoder's output projection. */
    public static final String LM_HEAD = "lm_head.weight";
    /** The reference name of the local decoder's output projection. */
    public static final String DECODER_OUTPUT = "local_decoder.output.weight";
    /** Prefix of every other BLT tensor in the HF layout. */
    public static final String MODEL_PREFIX = "model.";
    /** Prefix of the entropy model's tensors in the HF layout. */
    public static final String PATCHER_PREFIX = "model.patcher.";

    private static final String HASH_PREFIX = "encoder_hash_tok_embedding.";

    /** Reference name part → HF name part. */
    private static final Map<String, String> TO_HF = Map.ofEntries(
            Map.entry("attention", "self_attn"), Map.entry("feed_forward", "mlp"),
            Map.entry("attention_norm", "input_layernorm"), Map.entry("ffn_norm", "post_attention_layernorm"),
            Map.entry("tok_embeddings", "embed_tokens"),
            Map.entry("cross_attn_norm_q", "q_norm"), Map.entry("cross_attn_norm_kv", "k_norm"),
            Map.entry("w1", "gate_proj"), Map.entry("w2", "down_proj"), Map.entry("w3", "up_proj"),
            Map.entry("wq", "q_proj"), Map.entry("wk", "k_proj"), Map.entry("wv", "v_proj"), Map.entry("wo", "o_proj"),
            Map.entry("output", "lm_head"));
    private static final Map<String, String> TO_REFERENCE = invert(TO_HF);

    private HfNames() {}

    /** The reference name of hash table {@code i}. */
    public static String hashTable(int i) {
        return HASH_PREFIX + i + ".weight";
    }

    /** The index of a reference hash-table name, or -1 if {@code name} is not one. */
    public static int hashTableIndex(String name) {
        if (!name.startsWith(HASH_PREFIX) || !name.endsWith(".weight") || name.length() <= HASH_PREFIX.length() + ".weight".length()) return -1;
        String digits = name.substring(HASH_PREFIX.length(), name.length() - ".weight".length());
        if (digits.isEmpty() || digits.length() > 6 || !digits.chars().allMatch(Character::isDigit)) return -1;
        return Integer.parseInt(digits);
    }

    /** The HF name of a BLT tensor (hash tables excepted: they are fused, see {@link #FUSED_HASH_TABLE}). */
    public static String bltToHf(String reference) {
        if (hashTableIndex(reference) >= 0)
            throw new IllegalArgumentException(reference + " is a hash table, which the HF layout fuses into " + FUSED_HASH_TABLE);
        if (reference.equals(DECODER_OUTPUT)) return LM_HEAD;
        return MODEL_PREFIX + renameParts(reference, TO_HF);
    }

    /** The reference name of an HF BLT tensor (not the fused table, not the patcher's). */
    public static String bltFromHf(String hf) {
        if (hf.equals(LM_HEAD)) return DECODER_OUTPUT;
        if (!hf.startsWith(MODEL_PREFIX) || hf.startsWith(PATCHER_PREFIX) || hf.equals(FUSED_HASH_TABLE))
            throw new IllegalArgumentException(hf + " is not an HF name of a BLT tensor (those start with " + MODEL_PREFIX + ")");
        return renameParts(hf.substring(MODEL_PREFIX.length()), TO_REFERENCE);
    }

    /** The HF name of an entropy-model tensor (reference {@code LMTransformer} name). */
    public static String entropyToHf(String reference) {
        return PATCHER_PREFIX + renameParts(reference, TO_HF);
    }

    /** The reference name of an HF {@code model.patcher.} tensor. */
    public static String entropyFromHf(String hf) {
        if (!hf.startsWith(PATCHER_PREFIX))
            throw new IllegalArgumentException(hf + " is not an HF entropy-model tensor (those start with " + PATCHER_PREFIX + ")");
        return renameParts(hf.substring(PATCHER_PREFIX.length()), TO_REFERENCE);
    }

    private static String renameParts(String name, Map<String, String> map) {
        String[] parts = name.split("\\.", -1);
        for (int i = 0; i < parts.length; i++) parts[i] = map.getOrDefault(parts[i], parts[i]);
        return String.join(".", parts);
    }

    private static Map<String, String> invert(Map<String, String> m) {
        Map<String, String> inv = new java.util.HashMap<>();
        m.forEach((k, v) -> inv.put(v, k));
        return Map.copyOf(inv);
    }
}

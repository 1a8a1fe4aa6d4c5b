package dev.patchwork.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.patchwork.model.ByteLmConfig;
import dev.patchwork.tokenizer.BpeTokenizer;
import dev.patchwork.tokenizer.TokenizedSplit;
import dev.patchwork.util.Json;
import dev.patchwork.util.PatchworkException;

import java.nio.file.Path;
import java.util.Set;
import java.util.function.UnaryOperator;

/**
 * A token-level (BPE) baseline config: {@code {"model": {...}, "train": {...}, "tokenizer": {"vocab_size": 4096,
 * "path": "tok.json"}}}. The model is a {@link ByteLmConfig} whose {@code vocab_size} is filled in as
 * {@code 4 + tokenizer vocabulary} (if given, it must be that). Without a tokenizer path, one is learned with
 * {@code vocab_size} on the training split.
 */
public record TokenLmTrainConfig(ObjectNode model, TrainSettings settings, Path tokenizerPath, int tokenizerVocab, String what) {
    private static final Set<String> TOP_LEVEL = Set.of("model", "train", "tokenizer");
    private static final Set<String> TOKENIZER_FIELDS = Set.of("vocab_size", "path");

    /** Whether a config root is a token-LM config (it has a "tokenizer" section). */
    public static boolean isTokenLm(JsonNode root) {
        return root.isObject() && root.has("tokenizer");
    }

    /**
     * @param tokenizerFlag a tokenizer file given on the command line (overrides the config's path), or null
     */
    public static TokenLmTrainConfig fromJson(JsonNode root, String what, UnaryOperator<ObjectNode> overrides, Path tokenizerFlag) {
        for (var it = root.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!TOP_LEVEL.contains(f)) throw new PatchworkException(what + ": unknown top-level field '" + f + "' (expected " + TOP_LEVEL + ")");
        }
        if (!root.path("model").isObject()) throw new PatchworkException(what + ": missing 'model' object");
        JsonNode train = root.has("train") ? root.get("train") : Json.MAPPER.createObjectNode();
        if (!train.isObject()) throw new PatchworkException(what + ": 'train' must be an object");
        JsonNode tok = root.get("tokenizer");
        if (!tok.isObject()) throw new PatchworkException(what + ": 'tokenizer' must be an object like {\"vocab_size\": 4096}");
        for (var it = tok.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!TOKENIZER_FIELDS.contains(f)) throw new PatchworkException(what + ": unknown tokenizer field '" + f + "' (expected " + TOKENIZER_FIELDS + ")");
        }
        Path path = tokenizerFlag != null ? tokenizerFlag
                : tok.hasNonNull("path") ? Path.of(tok.get("path").asText()) : null;
        int vocab = tok.path("vocab_size").asInt(4096);
        if (path == null && vocab < BpeTokenizer.BYTES)
            throw new PatchworkException(what + ": tokenizer vocab_size must be >= 256, got " + vocab);
        TrainSettings settings = Json.bind(overrides.apply(((ObjectNode) train).deepCopy()), TrainSettings.class, what + " (train settings)");
        return new TokenLmTrainConfig(((ObjectNode) root.get("model")).deepCopy(), settings, path, vocab, what);
    }

    /** The model config for {@code tokenizer}: {@code vocab_size = 4 + its vocabulary}. */
    public ByteLmConfig modelFor(BpeTokenizer tokenizer) {
        int vocab = TokenizedSplit.lmVocab(tokenizer);
        ObjectNode m = model.deepCopy();
        if (m.has("vocab_size") && m.get("vocab_size").asInt() != vocab)
            throw new PatchworkException(what + ": model vocab_size " + m.get("vocab_size") + " does not match the tokenizer's "
                    + tokenizer.vocabSize() + " tokens + 4 special ids = " + vocab + "; drop model.vocab_size to have it filled in");
        m.put("vocab_size", vocab);
        return ByteLmConfig.fromJson(m, what + " (model)");
    }
}

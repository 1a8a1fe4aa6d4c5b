package dev.patchwork.serve;

import com.fasterxml.jackson.databind.JsonNode;
import dev.patchwork.generate.SamplingOptions;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;

/**
 * A {@code POST /v1/completions} body in the OpenAI shape. {@code max_tokens} counts bytes (the models' tokens);
 * defaults follow OpenAI's ({@code max_tokens} 16, {@code temperature} 1, {@code top_p} 1), plus {@code top_k} (0: no
 * limit). Without a {@code seed} each request draws its own. Unknown fields are refused, so a typo is not silently
 * ignored.
 */
record CompletionRequest(byte[] prompt, int maxTokens, SamplingOptions sampling, List<String> stop, boolean stream) {
    private static final Set<String> FIELDS = Set.of("model", "prompt", "max_tokens", "temperature", "top_p", "top_k", "seed", "stop", "stream");
    /** OpenAI's limit on stop sequences. */
    static final int MAX_STOPS = 4;

    static CompletionRequest parse(JsonNode body, ServerLimits limits, String modelName) {
        JsonFields f = new JsonFields(body, FIELDS);
        String model = f.string("model", null);
        if (model != null && !model.equals(modelName))
            throw new ApiException(404, "model_not_found", "model '" + model + "' is not served here; this server has '" + modelName + "'");
        String promptText = f.string("prompt", null);
        if (promptText == null) throw ApiException.badRequest("'prompt' is required: the text to continue");
        byte[] prompt = promptText.getBytes(StandardCharsets.UTF_8);
        if (prompt.length > limits.maxPromptBytes())
            throw new ApiException(413, "request_too_large", "'prompt' has " + prompt.length + " bytes; the limit is " + limits.maxPromptBytes());
        int maxTokens = f.integer("max_tokens", 16);
        if (maxTokens < 1 || maxTokens > limits.maxTokens())
            throw ApiException.badRequest("'max_tokens' must be in 1.." + limits.maxTokens() + " (bytes to generate), got " + maxTokens);
        double temperature = f.number("temperature", 1);
        double topP = f.number("top_p", 1);
        int topK = f.integer("top_k", 0);
        long seed = f.has("seed") ? f.longInteger("seed") : System.nanoTime();
        SamplingOptions sampling;
        try {
            sampling = new SamplingOptions(temperature, topK, topP, seed);
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest(e.getMessage());
        }
        return new CompletionRequest(prompt, maxTokens, sampling, stops(body.get("stop")), f.bool("stream", false));
    }

    /** {@code stop}: absent, null, a string, or a list of up to four non-empty strings. */
    private static List<String> stops(JsonNode node) {
        List<String> out = new ArrayList<>();
        if (node == null || node.isNull()) return out;
        if (node.isTextual()) out.add(node.asText());
        else if (node.isArray()) {
            for (JsonNode s : node) {
                if (!s.isTextual()) throw ApiException.badRequest("'stop' must be a string or a list of strings, got a list holding " + s.getNodeType().name().toLowerCase());
                out.add(s.asText());
            }
        } else throw ApiException.badRequest("'stop' must be a string or a list of strings, got " + node.getNodeType().name().toLowerCase());
        if (out.size() > MAX_STOPS) throw ApiException.badRequest("'stop' has " + out.size() + " sequences; at most " + MAX_STOPS);
        if (out.stream().anyMatch(String::isEmpty)) throw ApiException.badRequest("'stop' sequences must not be empty");
        return out;
    }

    /** Typed access to a JSON object's fields; a wrong type is a 400 naming the field and the type expected. */
    static final class JsonFields {
        private final JsonNode body;

        JsonFields(JsonNode body, Set<String> known) {
            if (body == null || !body.isObject()) throw ApiException.badRequest("the body must be a JSON object");
            for (Iterator<String> it = body.fieldNames(); it.hasNext(); ) {
                String name = it.next();
                if (!known.contains(name)) throw ApiException.badRequest("unknown field '" + name + "' (known fields: " + known.stream().sorted().toList() + ")");
            }
            this.body = body;
        }

        boolean has(String name) {
            return body.hasNonNull(name);
        }

        private JsonNode get(String name) {
            JsonNode n = body.get(name);
            return n == null || n.isNull() ? null : n;
        }

        private static ApiException wrongType(String name, String expected, JsonNode n) {
            return ApiException.badRequest("'" + name + "' must be " + expected + ", got " + n.getNodeType().name().toLowerCase() + " " + n);
        }

        String string(String name, String fallback) {
            JsonNode n = get(name);
            if (n == null) return fallback;
            if (!n.isTextual()) throw wrongType(name, "a string", n);
            return n.asText();
        }

        int integer(String name, int fallback) {
            JsonNode n = get(name);
            if (n == null) return fallback;
            if (!n.isIntegralNumber() || !n.canConvertToInt()) throw wrongType(name, "an integer", n);
            return n.asInt();
        }

        long longInteger(String name) {
            JsonNode n = get(name);
            if (!n.isIntegralNumber() || !n.canConvertToLong()) throw wrongType(name, "an integer", n);
            return n.asLong();
        }

        double number(String name, double fallback) {
            JsonNode n = get(name);
            if (n == null) return fallback;
            if (!n.isNumber()) throw wrongType(name, "a number", n);
            return n.asDouble();
        }

        Double optionalNumber(String name) {
            return has(name) ? number(name, 0) : null;
        }

        boolean bool(String name, boolean fallback) {
            JsonNode n = get(name);
            if (n == null) return fallback;
            if (!n.isBoolean()) throw wrongType(name, "true or false", n);
            return n.asBoolean();
        }
    }
}

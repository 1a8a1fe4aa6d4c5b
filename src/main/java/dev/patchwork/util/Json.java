package dev.patchwork.util;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/** The project's one Jackson mapper, and JSON reading that turns parse errors into one-line messages. */
public final class Json {
    public static final ObjectMapper MAPPER = new ObjectMapper()
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
            .enable(SerializationFeature.INDENT_OUTPUT);

    private Json() {}

    /** Reads a JSON file into a tree; a missing or malformed file is a {@link PatchworkException}. */
    public static JsonNode readTree(Path file) {
        try {
            return MAPPER.readTree(Files.readString(file));
        } catch (NoSuchFileException e) {
            throw new PatchworkException("file not found: " + file);
        } catch (JsonProcessingException e) {
            throw new PatchworkException(file + " is not valid JSON: " + e.getOriginalMessage()
                    + " (line " + e.getLocation().getLineNr() + ")");
        } catch (IOException e) {
            throw new PatchworkException("cannot read " + file + ": " + e.getMessage());
        }
    }

    /** Binds a tree to a type; unknown fields and wrong types become one-line messages naming the field. */
    public static <T> T bind(JsonNode node, Class<T> type, String what) {
        try {
            return MAPPER.treeToValue(node, type);
        } catch (UnrecognizedPropertyException e) {
            throw new PatchworkException(what + ": unknown field '" + e.getPropertyName() + "' (known fields: "
                    + e.getKnownPropertyIds() + ")");
        } catch (JsonProcessingException e) {
            Throwable root = e;
            while (root.getCause() != null) root = root.getCause();
            if (root instanceof IllegalArgumentException) throw new PatchworkException(what + ": " + root.getMessage());
            String path = e instanceof com.fasterxml.jackson.databind.JsonMappingException m ? fieldPath(m) : "";
            throw new PatchworkException(what + ": invalid value" + (path.isEmpty() ? "" : " for '" + path + "'")
                    + ": " + e.getOriginalMessage());
        } catch (IllegalArgumentException e) {
            // record constructors validate and throw IllegalArgumentException, which Jackson wraps
            Throwable c = e;
            while (c.getCause() != null) c = c.getCause();
            throw new PatchworkException(what + ": " + c.getMessage());
        }
    }

    private static String fieldPath(com.fasterxml.jackson.databind.JsonMappingException m) {
        StringBuilder sb = new StringBuilder();
        for (var ref : m.getPath()) {
            if (ref.getFieldName() != null) sb.append(sb.isEmpty() ? "" : ".").append(ref.getFieldName());
            else if (ref.getIndex() >= 0) sb.append('[').append(ref.getIndex()).append(']');
        }
        return sb.toString();
    }

    public static String write(Object value) {
        try {
            return MAPPER.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialise " + value.getClass().getSimpleName(), e);
        }
    }
}

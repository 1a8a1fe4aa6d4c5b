package dev.patchwork.patch;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import dev.patchwork.util.Json;
import dev.patchwork.util.PatchworkException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * Reads precomputed entropies: a JSON array of numbers (position 0 first), or an object whose {@code entropies} field
 * is one (such as the inspector's {@code --json} output). Everything wrong is a one-line {@link PatchworkException}
 * naming the file and the position.
 */
public final class EntropiesFile {
    private EntropiesFile() {}

    public static float[] read(Path file) {
        String text;
        try {
            text = Files.readString(file);
        } catch (NoSuchFileException e) {
            throw new PatchworkException("entropies file not found: " + file);
        } catch (IOException e) {
            throw new PatchworkException("cannot read entropies file " + file + ": " + e.getMessage());
        }
        return parse(text, file.toString());
    }

    /** Parses the text of an entropies file; {@code what} names it in messages. */
    public static float[] parse(String text, String what) {
        JsonNode root;
        try {
            // NaN and Infinity are parsed so that they can be reported as such, not as a syntax error
            root = Json.MAPPER.reader().with(JsonReadFeature.ALLOW_NON_NUMERIC_NUMBERS).readTree(text);
        } catch (JsonProcessingException e) {
            throw new PatchworkException(what + " is not valid JSON: " + e.getOriginalMessage() + " (line " + e.getLocation().getLineNr() + ")");
        }
        if (root == null || root.isMissingNode())
            throw new PatchworkException(what + " is empty: expected a JSON array of entropies (nats, position 0 first)");
        JsonNode array = root.isObject() && root.has("entropies") ? root.get("entropies") : root;
        if (!array.isArray())
            throw new PatchworkException(what + ": expected a JSON array of entropies (nats, position 0 first), or an object with an \"entropies\" array; got "
                    + root.getNodeType().toString().toLowerCase());
        float[] h = new float[array.size()];
        for (int t = 0; t < h.length; t++) {
            JsonNode v = array.get(t);
            if (!v.isNumber()) throw new PatchworkException(what + ": entropies[" + t + "] is not a number: " + abbreviate(v.toString()));
            double d = v.doubleValue();
            if (Double.isNaN(d) || Double.isInfinite(d)) throw new PatchworkException(what + ": entropies[" + t + "] is " + d + ": entropies must be finite numbers");
            if (d < 0) throw new PatchworkException(what + ": entropies[" + t + "] is negative (" + d + "): entropies are >= 0 nats");
            h[t] = (float) d;
            if (Float.isInfinite(h[t])) throw new PatchworkException(what + ": entropies[" + t + "] is too large for a float (" + d + ")");
        }
        return h;
    }

    private static String abbreviate(String s) {
        return s.length() <= 40 ? s : s.substring(0, 37) + "...";
    }
}

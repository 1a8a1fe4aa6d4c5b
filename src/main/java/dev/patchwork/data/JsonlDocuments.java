package dev.patchwork.data;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;

/** Reads JSONL: one JSON object per line, whose string field {@code text} is a document. Blank lines are skipped. */
final class JsonlDocuments {
    /** Trailing tokens fail, so two objects glued on one line are an error rather than a silently lost document. */
    private static final ObjectMapper JSON = new ObjectMapper()
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);

    private JsonlDocuments() {}

    static void read(InputStream in, String name, CorpusSource.DocumentSink sink) throws IOException {
        // Line by line rather than one streaming parser over the file: JSONL allows no raw newline inside a value, and a
        // bad line is then reported with its exact line number.
        BufferedReader lines = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8), 1 << 16);
        long lineNo = 0;
        for (String line; (line = lines.readLine()) != null; ) {
            lineNo++;
            if (lineNo == 1 && line.startsWith("\uFEFF")) line = line.substring(1); // byte-order mark
            if (line.isBlank()) continue;
            JsonNode node;
            try {
                node = JSON.readTree(line);
            } catch (JsonProcessingException e) {
                throw new DataException(name + " line " + lineNo + ": not valid JSON (" + e.getOriginalMessage()
                        + "); each line must be one object like {\"text\": \"...\"}");
            }
            JsonNode text = node.isObject() ? node.get("text") : null;
            if (text == null || !text.isTextual()) {
                String what = !node.isObject() ? "is a JSON " + node.getNodeType().toString().toLowerCase(java.util.Locale.ROOT) + ", not an object"
                        : text == null ? "has no \"text\" field" : "has a non-string \"text\" field";
                throw new DataException(name + " line " + lineNo + ": " + what
                        + "; each line must be one object like {\"text\": \"...\"}");
            }
            sink.accept(name + ":" + lineNo, new ByteArrayInputStream(text.asText().getBytes(StandardCharsets.UTF_8)));
        }
    }
}

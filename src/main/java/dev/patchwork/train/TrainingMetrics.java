package dev.patchwork.train;

import dev.patchwork.util.Json;
import dev.patchwork.util.PatchworkException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The metrics log of a run: one JSON object per line in {@code metrics.jsonl} ({@code {"kind":"train",...}} and
 * {@code {"kind":"eval",...}}), kept in memory too for the loss plot. On resume, lines after the resumed step are
 * dropped so the log reads like one unbroken run.
 */
public final class TrainingMetrics {
    /** One logged point. */
    public record Point(long step, double loss) {}

    private final Path file;
    private final List<Point> train = new ArrayList<>();
    private final List<Point> eval = new ArrayList<>();

    public TrainingMetrics(Path file, long resumeStep) {
        this.file = file;
        try {
            if (resumeStep > 0 && Files.exists(file)) {
                List<String> kept = new ArrayList<>();
                for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                    if (line.isBlank()) continue;
                    var node = Json.MAPPER.readTree(line);
                    long step = node.path("step").asLong();
                    if (step > resumeStep) continue;
                    kept.add(line);
                    Point p = new Point(step, node.path("loss").asDouble());
                    if ("eval".equals(node.path("kind").asText())) eval.add(p);
                    else train.add(p);
                }
                dev.patchwork.io.AtomicFiles.writeString(file, kept.isEmpty() ? "" : String.join("\n", kept) + "\n");
            } else {
                Files.deleteIfExists(file);
            }
        } catch (IOException e) {
            throw new PatchworkException("cannot read or reset " + file + ": " + e.getMessage());
        }
    }

    public void logTrain(long step, Map<String, Object> fields) {
        train.add(new Point(step, ((Number) fields.get("loss")).doubleValue()));
        append("train", step, fields);
    }

    public void logEval(long step, Map<String, Object> fields) {
        eval.add(new Point(step, ((Number) fields.get("loss")).doubleValue()));
        append("eval", step, fields);
    }

    private void append(String kind, long step, Map<String, Object> fields) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("kind", kind);
        m.put("step", step);
        m.putAll(fields);
        try {
            Files.writeString(file, Json.MAPPER.writer().without(com.fasterxml.jackson.databind.SerializationFeature.INDENT_OUTPUT)
                            .writeValueAsString(m) + "\n", StandardCharsets.UTF_8,
                    StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new PatchworkException("cannot append to " + file + ": " + e.getMessage());
        }
    }

    public List<Point> train() {
        return train;
    }

    public List<Point> eval() {
        return eval;
    }
}

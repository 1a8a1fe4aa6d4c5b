package dev.patchwork.experiment;

import com.fasterxml.jackson.databind.JsonNode;
import dev.patchwork.eval.noise.Noise;
import dev.patchwork.io.AtomicFiles;
import dev.patchwork.util.Json;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.CategoryChart;
import org.knowm.xchart.CategoryChartBuilder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.internal.chartpart.Chart;
import org.knowm.xchart.style.markers.SeriesMarkers;

import java.awt.Color;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * {@code report.md} of an experiment: the results table, the robustness table (bits per byte on each noised version
 * of the held-out text and the change from the clean text), and PNG plots: held-out bits per byte against training
 * FLOPs (the evaluation points each run logged in its {@code metrics.jsonl}) and a patch-length histogram per patched
 * model.
 */
final class ExperimentReport {
    /** Distinct colours for up to eight models (XChart's default palette has two yellows). */
    private static final Color[] SERIES_COLORS = {new Color(0x1f77b4), new Color(0xff7f0e), new Color(0x9467bd),
            new Color(0x2ca02c), new Color(0xd62728), new Color(0x8c564b), new Color(0xe377c2), new Color(0x7f7f7f)};

    static final String CURVE_PNG = "bpb_vs_train_flops.png";
    /** Relative gap between the planned and the measured patch size above which the report warns. */
    static final double PATCH_SIZE_TOLERANCE = 0.1;

    private ExperimentReport() {}

    static void write(Path out, Experiment experiment, String data, List<ModelResult> results) throws IOException {
        ExperimentConfig c = experiment.config();
        StringBuilder md = new StringBuilder();
        md.append("# Experiment report\n\n");
        md.append("Data: `").append(data).append("`.\n\n");
        md.append(String.format(Locale.ROOT, "Training budget: %.3g FLOPs per model (BLT paper accounting, §4.5: training = 3 x forward FLOPs "
                + "per byte x bytes trained; the entropy model of entropy patching is not counted, as in the paper). Held out: the last "
                + "%.3g of the corpus' byte stream, of which the first %,d bytes are evaluated. Seed %d.%n%n",
                c.trainFlops(), c.heldOutFraction(), results.isEmpty() ? 0 : results.getFirst().heldOutBytes(), c.seed()));
        md.append("## Results\n\n");
        md.append("| model | kind | parameters | steps | training FLOPs | training FLOPs/byte | held-out bits/byte | mean patch size | inference FLOPs/byte |\n");
        md.append("|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
        for (ModelResult r : results) {
            md.append(String.format(Locale.ROOT, "| %s | %s | %,d | %,d | %.3g | %.4g | %.4f | %s | %.4g |%n", r.name(), r.kind(), r.parameters(),
                    r.steps(), r.trainFlops(), r.trainFlopsPerByte(), r.bitsPerByte(),
                    r.meanPatchSize() == null ? "–" : String.format(Locale.ROOT, "%.3f", r.meanPatchSize()), r.inferenceFlopsPerByte()));
        }
        md.append("\nTraining FLOPs/byte are planned at the configured patch size; the mean patch size and the inference FLOPs/byte are "
                + "measured on the held-out text (positions per patch, BOS and EOS included).\n\n");
        for (ModelResult r : results) md.append("- ").append(r.name()).append(": ").append(r.description()).append('\n');
        for (ModelResult r : results) {
            if (r.plannedPatchSize() == null || r.meanPatchSize() == null) continue;
            double off = r.meanPatchSize() / r.plannedPatchSize() - 1;
            if (Math.abs(off) > PATCH_SIZE_TOLERANCE)
                md.append(String.format(Locale.ROOT, "%n**%s**: planned at patch size %.3g but measured %.3f: its steps read about %.0f%% %s bytes "
                                + "(and FLOPs) than planned; set its patch_size to the measured size to match the budget.%n",
                        r.name(), r.plannedPatchSize(), r.meanPatchSize(), Math.abs(off) * 100, off > 0 ? "more" : "fewer"));
        }

        if (!c.noises().isEmpty()) {
            md.append("\n## Robustness\n\nBits per byte on the held-out text noised as in the BLT paper's noised HellaSwag (§6.1), "
                    + "measured over the noised bytes (so a transformation that lengthens the text divides by more bytes); in brackets "
                    + "the change from the clean text.\n\n| model | clean |");
            for (Noise n : c.noises()) md.append(' ').append(n).append(" |");
            md.append("\n|---|---:|");
            md.append("---:|".repeat(c.noises().size())).append('\n');
            for (ModelResult r : results) {
                md.append(String.format(Locale.ROOT, "| %s | %.4f |", r.name(), r.bitsPerByte()));
                for (Noise n : c.noises()) {
                    Double v = r.noisedBitsPerByte().get(n.name());
                    md.append(v == null ? " – |" : String.format(Locale.ROOT, " %.4f (%+.4f) |", v, v - r.bitsPerByte()));
                }
                md.append('\n');
            }
        }

        md.append("\n## Plots\n\n");
        if (curves(out, experiment, results)) md.append("![held-out bits per byte against training FLOPs](").append(CURVE_PNG).append(")\n\n");
        for (ModelResult r : results) {
            if (r.patchLengthCounts() == null) continue;
            String png = "patch_sizes_" + r.name() + ".png";
            histogram(out.resolve(png), r);
            md.append("![patch lengths of ").append(r.name()).append("](").append(png).append(")\n\n");
        }
        AtomicFiles.writeString(out.resolve(Experiment.REPORT_FILE), md.toString());
    }

    /** Held-out bits per byte of every run's evaluations against the training FLOPs spent by then. */
    private static boolean curves(Path out, Experiment experiment, List<ModelResult> results) throws IOException {
        XYChart chart = new XYChartBuilder().width(900).height(560).title("held-out bits per byte against training FLOPs")
                .xAxisTitle("training FLOPs (BLT paper accounting)").yAxisTitle("bits per byte").build();
        chart.getStyler().setXAxisLogarithmic(true);
        chart.getStyler().setMarkerSize(6);
        chart.getStyler().setSeriesColors(SERIES_COLORS);
        boolean any = false;
        for (ModelResult r : results) {
            List<double[]> points = evalPoints(out.resolve(r.name()).resolve("metrics.jsonl"));
            if (points.isEmpty()) continue;
            double[] x = new double[points.size()], y = new double[points.size()];
            for (int i = 0; i < x.length; i++) {
                x[i] = points.get(i)[0] * r.bytesPerStep() * r.trainFlopsPerByte();
                y[i] = points.get(i)[1];
            }
            chart.addSeries(r.name(), x, y).setMarker(SeriesMarkers.CIRCLE);
            any = true;
        }
        if (any) save(chart, out.resolve(CURVE_PNG));
        return any;
    }

    /** (step, bits per byte) of the held-out evaluations a run logged. */
    static List<double[]> evalPoints(Path metrics) throws IOException {
        List<double[]> points = new ArrayList<>();
        if (!Files.isRegularFile(metrics)) return points;
        for (String line : Files.readAllLines(metrics, StandardCharsets.UTF_8)) {
            if (line.isBlank()) continue;
            JsonNode n = Json.MAPPER.readTree(line);
            if ("eval".equals(n.path("kind").asText()) && n.path("step").asLong() > 0)
                points.add(new double[]{n.path("step").asLong(), n.path("bpb").asDouble()});
        }
        return points;
    }

    private static void histogram(Path png, ModelResult r) throws IOException {
        long[] counts = r.patchLengthCounts();
        List<Integer> lengths = new ArrayList<>();
        List<Long> values = new ArrayList<>();
        for (int len = 1; len < counts.length; len++) {
            lengths.add(len);
            values.add(counts[len]);
        }
        CategoryChart chart = new CategoryChartBuilder().width(900).height(480)
                .title(String.format(Locale.ROOT, "%s: patch lengths on the held-out text (mean %.3f)", r.name(), r.meanPatchSize()))
                .xAxisTitle("patch length (bytes)").yAxisTitle("patches").build();
        chart.getStyler().setLegendVisible(false);
        chart.addSeries("patches", lengths, values);
        save(chart, png);
    }

    /** Writes a chart atomically: a temporary file, then a rename. */
    private static void save(Chart<?, ?> chart, Path png) throws IOException {
        System.setProperty("java.awt.headless", "true");
        Path tmp = png.resolveSibling(png.getFileName() + ".tmp");
        BitmapEncoder.saveBitmap(chart, tmp.toString(), BitmapEncoder.BitmapFormat.PNG); // appends ".png"
        Files.move(Path.of(tmp + ".png"), png, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
}

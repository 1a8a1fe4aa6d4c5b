package dev.patchwork.patch;

import org.knowm.xchart.AnnotationLine;
import org.knowm.xchart.AnnotationText;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * The entropy of every position with the threshold and the patch boundaries, like Figure 4 of the BLT paper. The point
 * at x = t is H[t], the uncertainty about byte t+1; a boundary is drawn at t + ½ when position t+1 starts a patch, so a
 * spike above the threshold sits just left of the boundary it causes. Short texts get their characters under the axis.
 */
public final class EntropyPlot {
    /** Texts up to this many positions get a character label under every point. */
    static final int MAX_LABELLED = 160;

    private EntropyPlot() {}

    /**
     * Writes the PNG atomically (temp file, then rename).
     *
     * @param labels    one label per position (e.g. its character), or null
     * @param threshold the global threshold line to draw, or null for rules without one
     */
    public static void write(Path png, String title, float[] entropies, Patches patches, String[] labels, Double threshold)
            throws IOException {
        System.setProperty("java.awt.headless", "true");
        int n = entropies.length;
        int width = Math.clamp(n * 14L + 160, 900, 6000);
        XYChart chart = new XYChartBuilder().width(width).height(480).title(title)
                .xAxisTitle("position t").yAxisTitle("H[t] (nats): uncertainty about byte t+1").build();
        chart.getStyler().setMarkerSize(5).setLegendVisible(true);
        double[] x = new double[n], y = new double[n];
        double top = threshold == null ? 0 : threshold;
        for (int t = 0; t < n; t++) {
            x[t] = t;
            y[t] = entropies[t];
            top = Math.max(top, entropies[t]);
        }
        XYSeries h = chart.addSeries("entropy", n == 0 ? new double[]{0} : x, n == 0 ? new double[]{0} : y);
        h.setMarker(SeriesMarkers.CIRCLE);
        if (threshold != null) {
            XYSeries line = chart.addSeries("threshold " + threshold, new double[]{-0.5, Math.max(0.5, n - 0.5)},
                    new double[]{threshold, threshold});
            line.setMarker(SeriesMarkers.NONE);
        }
        int[] starts = patches.starts();
        for (int p = 1; p < starts.length; p++)
            if (starts[p] <= n) chart.addAnnotation(new AnnotationLine(starts[p] - 0.5, true, false));
        chart.getStyler().setXAxisMin(-1.0).setXAxisMax(Math.max(1.0, n)).setYAxisMin(-0.08 * Math.max(top, 1)).setYAxisMax(Math.max(top, 1) * 1.08);
        if (labels != null && n <= MAX_LABELLED)
            for (int t = 0; t < n; t++)
                chart.addAnnotation(new AnnotationText(labels[t], t, -0.04 * Math.max(top, 1), false));
        Path tmp = png.resolveSibling(png.getFileName() + ".tmp");
        BitmapEncoder.saveBitmap(chart, tmp.toString(), BitmapEncoder.BitmapFormat.PNG); // appends ".png"
        Files.move(Path.of(tmp + ".png"), png, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
}

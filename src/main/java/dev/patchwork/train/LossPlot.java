package dev.patchwork.train;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;

/** Writes the training and held-out loss curves of a run to a PNG (atomically: temp file, then rename). */
public final class LossPlot {
    private LossPlot() {}

    public static void write(Path png, String title, List<TrainingMetrics.Point> train, List<TrainingMetrics.Point> eval)
            throws IOException {
        if (train.isEmpty()) return;
        System.setProperty("java.awt.headless", "true");
        XYChart chart = new XYChartBuilder().width(900).height(520).title(title)
                .xAxisTitle("step").yAxisTitle("loss (nats/byte)").build();
        chart.getStyler().setMarkerSize(6);
        addSeries(chart, "train", train).setMarker(SeriesMarkers.NONE);
        if (!eval.isEmpty()) addSeries(chart, "held-out", eval).setMarker(SeriesMarkers.CIRCLE);
        Path tmp = png.resolveSibling(png.getFileName() + ".tmp");
        BitmapEncoder.saveBitmap(chart, tmp.toString(), BitmapEncoder.BitmapFormat.PNG); // appends ".png"
        Files.move(Path.of(tmp + ".png"), png, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    private static XYSeries addSeries(XYChart chart, String name, List<TrainingMetrics.Point> points) {
        double[] x = new double[points.size()], y = new double[points.size()];
        for (int i = 0; i < x.length; i++) {
            x[i] = points.get(i).step();
            y[i] = points.get(i).loss();
        }
        return chart.addSeries(name, x, y);
    }
}

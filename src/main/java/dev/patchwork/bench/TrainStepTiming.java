package dev.patchwork.bench;

import dev.patchwork.tensor.Parallel;
import dev.patchwork.tensor.Simd;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/** What every training benchmark shares: the median time of a step after warm-up, and the throughput/MFU fields. */
final class TrainStepTiming {
    private TrainStepTiming() {}

    /** Median seconds of {@code steps} timed calls of {@code step}, after {@code warmupSteps} untimed ones. */
    static double medianSeconds(int warmupSteps, int steps, Runnable step) {
        double[] times = new double[steps];
        for (int s = -warmupSteps; s < steps; s++) {
            long t0 = System.nanoTime();
            step.run();
            if (s >= 0) times[s] = (System.nanoTime() - t0) / 1e9;
        }
        Arrays.sort(times);
        return times[steps / 2];
    }

    /** The leading fields of a result: benchmark name, kernels, threads. */
    static Map<String, Object> header() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("benchmark", "train");
        m.put("kernels", Simd.SCALAR ? "scalar" : "vector" + Simd.F.vectorBitSize());
        m.put("threads", Parallel.threads());
        return m;
    }

    /** Adds step time, bytes/s, FLOPs, model GFLOP/s and MFU against the FMA peak measured now. */
    static void putThroughput(Map<String, Object> m, int steps, double medianSeconds, double bytesPerStep, double trainFlopsPerByte) {
        double bytesPerSecond = bytesPerStep / medianSeconds;
        double gflops = trainFlopsPerByte * bytesPerSecond / 1e9;
        FmaPeak.Result peak = FmaPeak.measure(20_000_000L, 3);
        m.put("steps_timed", steps);
        m.put("median_step_ms", medianSeconds * 1e3);
        m.put("bytes_per_s", bytesPerSecond);
        m.put("train_flops_per_byte", trainFlopsPerByte);
        m.put("model_gflops", gflops);
        m.put("fma_peak_gflops", peak.totalGflops());
        m.put("mfu", gflops / peak.totalGflops());
    }
}

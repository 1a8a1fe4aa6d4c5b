package dev.patchwork.bench;

import dev.patchwork.layers.LayerProfile;
import dev.patchwork.tensor.Parallel;
import dev.patchwork.tensor.Simd;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/** What every training benchmark shares: the median time of a step after warm-up, and the throughput/MFU fields. */
final class TrainStepTiming {
    private TrainStepTiming() {}

    /**
     * Untimed steps run for at least this long (and at least the requested count): C2 needs a few seconds to compile
     * every kernel of a step, and ten byte-LM steps (0.3 s) ended long before that, so the timed steps still included
     * interpreted and C1 code (median 20,000–22,000 bytes/s instead of about 25,000 in the same build).
     */
    static final long MIN_WARMUP_NANOS = 3_000_000_000L;

    /**
     * Median seconds of {@code steps} timed calls of {@code step}, after at least {@code warmupSteps} untimed ones and
     * at least {@link #MIN_WARMUP_NANOS} of them ({@code warmupSteps = 0}: none).
     */
    static double medianSeconds(int warmupSteps, int steps, Runnable step) {
        long warmupStart = System.nanoTime();
        for (int s = 0; s < warmupSteps || (warmupSteps > 0 && System.nanoTime() - warmupStart < MIN_WARMUP_NANOS); s++)
            step.run();
        double[] times = new double[steps];
        for (int s = 0; s < steps; s++) {
            long t0 = System.nanoTime();
            step.run();
            times[s] = (System.nanoTime() - t0) / 1e9;
        }
        Arrays.sort(times);
        return times[steps / 2];
    }

    /**
     * Runs {@code steps} more calls of {@code step} with {@link LayerProfile} on and returns its report (time per
     * layer kind and direction, per step, and the fraction of the step): a separate run, so that the timed figures
     * are not affected by the clock reads.
     */
    static Map<String, Object> profile(int steps, Runnable step) {
        LayerProfile.reset();
        LayerProfile.enable(true);
        try {
            long t0 = System.nanoTime();
            for (int s = 0; s < steps; s++) step.run();
            long total = System.nanoTime() - t0;
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("step_ms", Math.round(total / 1e3 / steps) / 1000.0);
            m.put("layers", LayerProfile.report(steps, total));
            return m;
        } finally {
            LayerProfile.enable(false);
            LayerProfile.reset();
        }
    }

    /** Gradient clipping and the optimiser step, timed as {@link LayerProfile.Kind#OPTIMIZER} when profiling. */
    static void optimizerStep(Runnable clipAndStep) {
        long t = LayerProfile.start();
        clipAndStep.run();
        LayerProfile.stop(LayerProfile.Kind.OPTIMIZER, true, t);
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

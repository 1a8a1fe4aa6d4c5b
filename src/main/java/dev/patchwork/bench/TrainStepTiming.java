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
     * Timed steps run for at least this long (and at least the requested count): thirty 30 ms byte-LM steps are one
     * second, and one disturbed second on a shared VM moved their median by up to 20%.
     */
    static final long MIN_TIMED_NANOS = 5_000_000_000L;

    /** The median step time and how many steps it is the median of. */
    record Timing(double medianSeconds, int steps) {}

    /**
     * Times calls of {@code step}: at least {@code warmupSteps} untimed ones and {@link #MIN_WARMUP_NANOS} of them,
     * then at least {@code steps} timed ones and {@link #MIN_TIMED_NANOS} of them. {@code warmupSteps = 0} asks for a
     * quick check: no warm-up and exactly {@code steps} timed calls.
     */
    static Timing time(int warmupSteps, int steps, Runnable step) {
        boolean quick = warmupSteps == 0;
        long warmupStart = System.nanoTime();
        for (int s = 0; s < warmupSteps || (!quick && System.nanoTime() - warmupStart < MIN_WARMUP_NANOS); s++)
            step.run();
        double[] times = new double[Math.max(1, steps)];
        int n = 0;
        long timedStart = System.nanoTime();
        while (n < steps || (!quick && System.nanoTime() - timedStart < MIN_TIMED_NANOS)) {
            if (n == times.length) times = Arrays.copyOf(times, 2 * n);
            long t0 = System.nanoTime();
            step.run();
            times[n++] = (System.nanoTime() - t0) / 1e9;
        }
        double[] timed = Arrays.copyOf(times, n);
        Arrays.sort(timed);
        return new Timing(timed[n / 2], n);
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

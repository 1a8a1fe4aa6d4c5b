package dev.patchwork.bench;

import dev.patchwork.model.ByteLm;
import dev.patchwork.model.ByteLmConfig;
import dev.patchwork.tensor.Parallel;
import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.tensor.Simd;
import dev.patchwork.train.AdamW;
import dev.patchwork.train.GradientClipping;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Times full training steps (forward, loss, backward, clipping, AdamW) of a byte LM on random bytes and reports bytes
 * per second, model FLOP/s and MFU against the machine's measured FMA peak.
 */
public final class TrainBench {
    private TrainBench() {}

    public static Map<String, Object> run(ByteLmConfig config, int batch, int seqLen, int warmupSteps, int steps) {
        ByteLm model = ByteLm.initialise(config);
        ParameterBuffer grads = ParameterBuffer.allocate(model.layout());
        AdamW opt = new AdamW(model.layout(), 0.9, 0.95, 1e-8, 0.1);
        int[] x = new int[batch * seqLen], y = new int[batch * seqLen];
        SplittableRandom r = new SplittableRandom(1);
        for (int i = 0; i < x.length; i++) {
            x[i] = 4 + r.nextInt(96) + 32; // printable ASCII range, like text
            y[i] = 4 + r.nextInt(96) + 32;
        }
        double[] times = new double[steps];
        for (int s = -warmupSteps; s < steps; s++) {
            long t0 = System.nanoTime();
            grads.zero();
            model.forward(x, batch, seqLen);
            model.loss(y, null, true);
            model.backward(grads);
            GradientClipping.clip(grads, 1.0);
            opt.step(model.parameters(), grads, 1e-4);
            if (s >= 0) times[s] = (System.nanoTime() - t0) / 1e9;
        }
        java.util.Arrays.sort(times);
        double median = times[steps / 2];
        double bytesPerSecond = batch * seqLen / median;
        double flopsPerToken = ModelFlops.trainPerToken(config, seqLen);
        double gflops = flopsPerToken * bytesPerSecond / 1e9;
        FmaPeak.Result peak = FmaPeak.measure(20_000_000L, 3);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("benchmark", "train");
        m.put("kernels", Simd.SCALAR ? "scalar" : "vector" + Simd.F.vectorBitSize());
        m.put("threads", Parallel.threads());
        m.put("parameters", model.layout().parameterCount());
        m.put("batch_size", batch);
        m.put("seq_len", seqLen);
        m.put("steps_timed", steps);
        m.put("median_step_ms", median * 1e3);
        m.put("bytes_per_s", bytesPerSecond);
        m.put("train_flops_per_byte", flopsPerToken);
        m.put("model_gflops", gflops);
        m.put("fma_peak_gflops", peak.totalGflops());
        m.put("mfu", gflops / peak.totalGflops());
        return m;
    }
}

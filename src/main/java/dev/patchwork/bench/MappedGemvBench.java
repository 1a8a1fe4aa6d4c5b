package dev.patchwork.bench;

import dev.patchwork.tensor.MappedGemv;
import dev.patchwork.tensor.MappedWeight;
import dev.patchwork.tensor.Matmul;
import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.tensor.WeightFormat;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * One token's matrix-vector product {@code y = x·Wᵀ} on a matrix far larger than the caches (4096 × 4096: 64 MB in
 * float32, 32 MB in BF16), the memory-bound work of generation: the float32 kernel ({@link Matmul#xwT}) against the
 * BF16 one ({@link MappedGemv#xwT}) on the same values. Reports the median time of several calls and the bytes of
 * weights read per second.
 */
public final class MappedGemvBench {
    static final int N = 4096, K = 4096, WARMUP = 40, REPEATS = 15;

    private MappedGemvBench() {}

    public static Map<String, Object> run() {
        SplittableRandom rng = new SplittableRandom(1);
        long values = (long) N * K;
        MemorySegment f32 = Arena.ofAuto().allocate(values * 4, 64);
        MemorySegment bf16 = Arena.ofAuto().allocate(values * 2, 64);
        for (long i = 0; i < values; i++) {
            float v = (float) (rng.nextDouble() - 0.5);
            short b = WeightFormat.toBf16(v);
            bf16.setAtIndex(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED, i, b);
            f32.setAtIndex(ParameterBuffer.F32, i, Float.intBitsToFloat(b << 16)); // the same values
        }
        MappedWeight w = new MappedWeight(bf16, WeightFormat.BF16);
        float[] x = new float[K], y32 = new float[N], y16 = new float[N];
        for (int k = 0; k < K; k++) x[k] = (float) (rng.nextDouble() - 0.5);
        double tF32 = median(() -> Matmul.xwT(y32, 0, x, 0, f32, 0, 1, N, K, false));
        double tBf16 = median(() -> MappedGemv.xwT(y16, 0, N, x, 0, w, 1, N, K, false));
        double worst = 0;
        for (int n = 0; n < N; n++) worst = Math.max(worst, Math.abs(y32[n] - y16[n]));
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("shape", N + "x" + K + ", one row");
        r.put("f32_ms", tF32 * 1e3);
        r.put("f32_weight_gb_per_s", values * 4 / tF32 / 1e9);
        r.put("bf16_ms", tBf16 * 1e3);
        r.put("bf16_weight_gb_per_s", values * 2 / tBf16 / 1e9);
        r.put("bf16_speedup", tF32 / tBf16);
        r.put("max_abs_difference", worst);
        return r;
    }

    /** Median seconds of {@link #REPEATS} calls after {@link #WARMUP} calls that let the JIT compile the kernel. */
    private static double median(Runnable call) {
        for (int i = 0; i < WARMUP; i++) call.run();
        double[] t = new double[REPEATS];
        for (int i = 0; i < REPEATS; i++) {
            long t0 = System.nanoTime();
            call.run();
            t[i] = (System.nanoTime() - t0) / 1e9;
        }
        Arrays.sort(t);
        return t[REPEATS / 2];
    }
}

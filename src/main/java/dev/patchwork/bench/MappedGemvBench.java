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
 * BF16 one ({@link MappedGemv#xwT}) on the same values, alternating, after a JIT warm-up. Reports median times, the
 * bytes of weights read per second and the median of the per-pair speed-ups.
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
        Runnable f32Call = () -> Matmul.xwT(y32, 0, x, 0, f32, 0, 1, N, K, false);
        Runnable bf16Call = () -> MappedGemv.xwT(y16, 0, N, x, 0, w, 1, N, K, false);
        for (int i = 0; i < WARMUP; i++) {
            f32Call.run();
            bf16Call.run();
        }
        // the two kernels alternate, so a busy spell of the machine slows both, not one
        double[] t32 = new double[REPEATS], t16 = new double[REPEATS], ratio = new double[REPEATS];
        for (int i = 0; i < REPEATS; i++) {
            t32[i] = time(f32Call);
            t16[i] = time(bf16Call);
            ratio[i] = t32[i] / t16[i];
        }
        double tF32 = median(t32), tBf16 = median(t16);
        double worst = 0;
        for (int n = 0; n < N; n++) worst = Math.max(worst, Math.abs(y32[n] - y16[n]));
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("shape", N + "x" + K + ", one row");
        r.put("f32_ms", tF32 * 1e3);
        r.put("f32_weight_gb_per_s", values * 4 / tF32 / 1e9);
        r.put("bf16_ms", tBf16 * 1e3);
        r.put("bf16_weight_gb_per_s", values * 2 / tBf16 / 1e9);
        r.put("bf16_speedup_median_of_pairs", median(ratio));
        r.put("max_abs_difference", worst);
        return r;
    }

    private static double time(Runnable call) {
        long t0 = System.nanoTime();
        call.run();
        return (System.nanoTime() - t0) / 1e9;
    }

    private static double median(double[] values) {
        double[] v = values.clone();
        Arrays.sort(v);
        return v[v.length / 2];
    }
}

package dev.patchwork.bench;

import dev.patchwork.tensor.AttentionKernel;
import dev.patchwork.tensor.Parallel;
import dev.patchwork.tensor.Simd;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Throughput of {@link AttentionKernel} forward + backward on the shapes Patchwork trains with:
 * <ul>
 *   <li>causal sliding-window self-attention (window 512, head dim 64) at 1k, 4k and 16k bytes: at a fixed window the
 *       cost is linear in length, so tokens/s should stay flat as T grows;</li>
 *   <li>the small training configuration: batch 12 of T = 64, 4 heads of 32, as one call whose intervals keep the
 *       sequences apart;</li>
 *   <li>a decoding step: one query against a 512-key window of the cache, with {@link AttentionKernel#decode},
 *       with {@link AttentionKernel#forward} and with the scalar twin;</li>
 *   <li>the scalar twins on the small shapes, for the speed-up.</li>
 * </ul>
 * q, k and v are slices of one fused QKV row buffer, as the model stores them. GFLOP/s counts the usual 4·hd
 * (forward) + 8·hd (backward) flops per visible (query, key, head) triple, not the recomputation the kernel does.
 */
public final class AttentionBench {
    private static final ThreadMXBean CPU = ManagementFactory.getThreadMXBean();

    private AttentionBench() {}

    /** How a configuration is run. */
    public enum Kernel { VECTOR, SCALAR, DECODE }

    /** One measured configuration. */
    public record Config(String name, int batch, int length, int heads, int headDim, int window, Kernel kernel) {}

    /** Prints the table. {@code --quick}: only 4 heads in the sliding-window rows, and shorter runs. */
    public static void main(String[] args) {
        boolean quick = args.length == 1 && args[0].equals("--quick");
        if (args.length > 0 && !quick)
            throw new IllegalArgumentException("usage: AttentionBench [--quick] (threads: -Dpatchwork.threads=N)");
        System.out.println(Simd.describe());
        Map<String, Double> results = run(quick ? 0.3 : 1.0, quick ? new int[] {4} : new int[] {4, 8, 16});
        boolean cpu = Parallel.threads() == 1;
        System.out.printf(Locale.ROOT, "%-38s %9s %9s %12s %9s%s%n", "config (wall-clock medians)", "fwd ms", "bwd ms",
                "tokens/s", "GFLOP/s", cpu ? "  tokens/CPU-s (this thread's CPU time)" : "");
        for (String key : results.keySet()) {
            if (!key.endsWith(".tokensPerSecond")) continue;
            String name = key.substring(0, key.length() - ".tokensPerSecond".length());
            System.out.printf(Locale.ROOT, "%-38s %9.2f %9.2f %12.0f %9.1f%s%n", name, results.get(name + ".forwardMs"),
                    results.get(name + ".backwardMs"), results.get(key), results.get(name + ".gflops"),
                    cpu ? String.format(Locale.ROOT, "  %12.0f", results.get(name + ".tokensPerCpuSecond")) : "");
        }
        System.out.printf(Locale.ROOT, "%n%-38s %12s %12s%s%n", "decoding step (forward only)", "µs/step", "steps/s",
                cpu ? "  CPU µs/step" : "");
        for (String key : results.keySet()) {
            if (!key.endsWith(".stepMicros")) continue;
            String name = key.substring(0, key.length() - ".stepMicros".length());
            System.out.printf(Locale.ROOT, "%-38s %12.1f %12.0f%s%n", name, results.get(key),
                    results.get(name + ".stepsPerSecond"),
                    cpu ? String.format(Locale.ROOT, "  %11.1f", results.get(name + ".stepCpuMicros")) : "");
        }
    }

    /**
     * Runs every configuration for at least {@code minSeconds} after a warm-up; {@code headCounts} are the head counts
     * of the sliding-window rows. Returns medians per configuration name:
     * <ul>
     *   <li>training shapes: {@code name.forwardMs}, {@code name.backwardMs}, {@code name.tokensPerSecond}
     *       (forward + backward) and {@code name.gflops};</li>
     *   <li>decoding steps: {@code name.stepMicros} and {@code name.stepsPerSecond};</li>
     *   <li>with one thread also {@code name.forwardCpuMs}, {@code name.backwardCpuMs}, {@code name.tokensPerCpuSecond}
     *       and {@code name.stepCpuMicros}, from the CPU time of the only thread, which other processes on a busy
     *       shared machine do not inflate.</li>
     * </ul>
     */
    public static Map<String, Double> run(double minSeconds, int[] headCounts) {
        Map<String, Double> results = new LinkedHashMap<>();
        for (int heads : headCounts)
            for (int length : new int[] {1024, 4096, 16384})
                measure(new Config("window512 h" + heads + " hd64 T" + length, 1, length, heads, 64, 512,
                        Kernel.VECTOR), minSeconds, results);
        measure(new Config("small b12 T64 h4 hd32", 12, 64, 4, 32, 64, Kernel.VECTOR), minSeconds, results);
        measure(new Config("small b12 T64 h4 hd32 scalar", 12, 64, 4, 32, 64, Kernel.SCALAR), minSeconds, results);
        measure(new Config("window512 h4 hd64 T1024 scalar", 1, 1024, 4, 64, 512, Kernel.SCALAR), minSeconds, results);
        for (Kernel kernel : Kernel.values())
            measureDecode(new Config("decode step h16 hd64 512 keys " + kernel.name().toLowerCase(Locale.ROOT),
                    1, 4096, 16, 64, 512, kernel), minSeconds, results);
        return results;
    }

    /** Times forward and backward of one configuration and adds its figures to {@code results}. */
    public static void measure(Config c, double minSeconds, Map<String, Double> results) {
        int queries = c.batch() * c.length(), hd = c.headDim(), heads = c.heads();
        int stride = 3 * heads * hd; // fused QKV row
        AttentionKernel.Shape s = new AttentionKernel.Shape(queries, heads, heads, hd, 0, stride, heads * hd, stride,
                2 * heads * hd, stride, 0, heads * hd);
        SplittableRandom r = new SplittableRandom(1);
        float[] qkv = random(r, queries * stride), dout = random(r, queries * heads * hd);
        float[] out = new float[queries * heads * hd], lse = new float[queries * heads], dqkv = new float[qkv.length];
        int[] from = new int[queries], to = new int[queries];
        long pairs = 0;
        for (int i = 0; i < queries; i++) {
            int start = i / c.length() * c.length(); // sequences of one batch never see each other
            from[i] = Math.max(start, i - c.window() + 1);
            to[i] = i + 1;
            pairs += to[i] - from[i];
        }
        float scale = (float) (1 / Math.sqrt(hd));
        // warm-up until the JIT has compiled the vector kernels (short calls need many repetitions)
        long warmUntil = System.nanoTime() + (long) (minSeconds * 0.5e9);
        for (int warm = 0; warm < 3 || System.nanoTime() < warmUntil; warm++)
            step(c, s, qkv, from, to, scale, out, lse, dout, dqkv, null);
        // medians of at least 5 runs: this machine is shared, and a run that lost its core to another process
        // should not move the figure
        List<Double> fwd = new ArrayList<>(), bwd = new ArrayList<>(), fwdCpu = new ArrayList<>(), bwdCpu = new ArrayList<>();
        double[] seconds = new double[4];
        double total = 0;
        while (total < minSeconds || fwd.size() < 5) {
            step(c, s, qkv, from, to, scale, out, lse, dout, dqkv, seconds);
            fwd.add(seconds[0]);
            bwd.add(seconds[1]);
            fwdCpu.add(seconds[2]);
            bwdCpu.add(seconds[3]);
            total += seconds[0] + seconds[1];
        }
        double fwdSeconds = median(fwd), bwdSeconds = median(bwd), step = fwdSeconds + bwdSeconds;
        results.put(c.name() + ".forwardMs", fwdSeconds * 1e3);
        results.put(c.name() + ".backwardMs", bwdSeconds * 1e3);
        results.put(c.name() + ".tokensPerSecond", queries / step);
        if (Parallel.threads() == 1) { // everything ran on this thread: its CPU time ignores other processes
            double cpu = median(fwdCpu) + median(bwdCpu);
            results.put(c.name() + ".forwardCpuMs", median(fwdCpu) * 1e3);
            results.put(c.name() + ".backwardCpuMs", median(bwdCpu) * 1e3);
            results.put(c.name() + ".tokensPerCpuSecond", queries / cpu);
        }
        results.put(c.name() + ".gflops", 12.0 * hd * pairs * heads / step * 1e-9);
    }

    /**
     * Times one decoding step: the last of {@code length} queries against the keys of its window, through the kernel
     * of {@code c}; adds {@code name.stepMicros} and {@code name.stepsPerSecond}.
     */
    public static void measureDecode(Config c, double minSeconds, Map<String, Double> results) {
        int hd = c.headDim(), heads = c.heads(), stride = 3 * heads * hd, last = c.length() - 1;
        SplittableRandom r = new SplittableRandom(2);
        float[] qkv = random(r, c.length() * stride), out = new float[heads * hd], lse = new float[heads];
        // the query is the last row; keys and values are read from the whole cache
        AttentionKernel.Shape s = new AttentionKernel.Shape(1, heads, heads, hd, last * stride, stride, heads * hd,
                stride, 2 * heads * hd, stride, 0, heads * hd);
        int[] from = {Math.max(0, last - c.window() + 1)}, to = {last + 1};
        float scale = (float) (1 / Math.sqrt(hd));
        Runnable step = switch (c.kernel()) {
            case DECODE -> () -> AttentionKernel.decode(s, qkv, qkv, qkv, from, to, scale, out, lse);
            case VECTOR -> () -> AttentionKernel.forward(s, qkv, qkv, qkv, from, to, scale, out, lse);
            case SCALAR -> () -> AttentionKernel.forwardScalar(s, qkv, qkv, qkv, from, to, scale, out, lse);
        };
        long warmUntil = System.nanoTime() + (long) (minSeconds * 0.5e9);
        for (int warm = 0; warm < 20 || System.nanoTime() < warmUntil; warm++) step.run();
        List<Double> micros = new ArrayList<>(), cpuMicros = new ArrayList<>();
        for (long t0 = System.nanoTime(); System.nanoTime() - t0 < minSeconds * 1e9 || micros.size() < 20; ) {
            long a = System.nanoTime(), ca = CPU.getCurrentThreadCpuTime();
            step.run();
            micros.add((System.nanoTime() - a) * 1e-3);
            cpuMicros.add((CPU.getCurrentThreadCpuTime() - ca) * 1e-3);
        }
        double median = median(micros);
        results.put(c.name() + ".stepMicros", median);
        results.put(c.name() + ".stepsPerSecond", 1e6 / median);
        if (Parallel.threads() == 1) results.put(c.name() + ".stepCpuMicros", median(cpuMicros));
    }

    private static double median(List<Double> values) {
        List<Double> sorted = new ArrayList<>(values);
        Collections.sort(sorted);
        int n = sorted.size();
        return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    }

    /**
     * One forward + backward; unless {@code seconds} is null it receives their wall-clock durations, then the CPU time
     * of this thread in each.
     */
    private static void step(Config c, AttentionKernel.Shape s, float[] qkv, int[] from, int[] to, float scale,
                             float[] out, float[] lse, float[] dout, float[] dqkv, double[] seconds) {
        long t0 = System.nanoTime(), c0 = CPU.getCurrentThreadCpuTime();
        if (c.kernel() == Kernel.SCALAR) AttentionKernel.forwardScalar(s, qkv, qkv, qkv, from, to, scale, out, lse);
        else AttentionKernel.forward(s, qkv, qkv, qkv, from, to, scale, out, lse);
        long t1 = System.nanoTime(), c1 = CPU.getCurrentThreadCpuTime();
        if (c.kernel() == Kernel.SCALAR) AttentionKernel.backwardScalar(s, qkv, qkv, qkv, from, to, scale, out, lse, dout, dqkv, dqkv, dqkv);
        else AttentionKernel.backward(s, qkv, qkv, qkv, from, to, scale, out, lse, dout, dqkv, dqkv, dqkv);
        long t2 = System.nanoTime(), c2 = CPU.getCurrentThreadCpuTime();
        if (seconds != null) {
            seconds[0] = (t1 - t0) * 1e-9;
            seconds[1] = (t2 - t1) * 1e-9;
            seconds[2] = (c1 - c0) * 1e-9;
            seconds[3] = (c2 - c1) * 1e-9;
        }
    }

    private static float[] random(SplittableRandom r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (r.nextDouble() * 2 - 1);
        return a;
    }
}

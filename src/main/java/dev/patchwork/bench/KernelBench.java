package dev.patchwork.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.patchwork.tensor.Matmul;
import dev.patchwork.tensor.Parallel;
import dev.patchwork.tensor.Simd;

import static dev.patchwork.tensor.ParameterBuffer.F32;

/**
 * Throughput of the three {@link Matmul} forms on a square problem, a large training-like one and the small shapes a
 * training step actually runs, next to this machine's FMA peak measured in the same run ({@link FmaPeak}), so that a
 * figure can be judged even on a busy or unusual machine.
 *
 * <p>Method: per shape and form, warm up (JIT, caches, page faults) until the time per call stops improving, then
 * time several repetitions, each long enough to dwarf timer resolution, and report the median (the figure to quote)
 * and the best (the machine's capability when nothing else ran). On a machine shared with other busy processes the
 * two-thread figures collapse (each parallel call waits for a descheduled worker), and so does the FMA peak measured
 * in the same run: compare the two. Shapes use the {@link Matmul} names: {@code X[M,K]}, {@code W[N,K]}, {@code Y[M,N]}; every form
 * costs {@code 2·M·N·K} flops.
 */
public final class KernelBench {
    /** One benchmark shape; {@code label} says where it comes from. */
    record Shape(String label, int m, int n, int k) {
        long flops() {
            return 2L * m * n * k;
        }
    }

    private static final List<Shape> SHAPES = List.of(
            new Shape("square", 1024, 1024, 1024),
            new Shape("large", 8192, 2048, 512),
            new Shape("train", 768, 384, 128),
            new Shape("train", 768, 704, 128),
            new Shape("train", 768, 128, 352),
            new Shape("train", 768, 260, 128),
            new Shape("train", 8192, 384, 128));

    private static final List<String> FORMS = List.of("xwT", "dyW", "dyTx");

    private KernelBench() {}

    /**
     * Runs the benchmark. {@code quick} measures fewer shapes for a shorter time (a smoke check, seconds); the full run
     * takes about a minute. Returns {@code fma_peak_gflops}, {@code fma_peak_per_thread_gflops}, {@code threads},
     * {@code vector_bits} and {@code results}: a list of maps with {@code shape}, {@code label}, {@code form},
     * {@code m}, {@code n}, {@code k}, {@code gflops} (median), {@code best_gflops}, {@code ms} (median time per call)
     * and {@code fraction_of_peak} (median over the all-thread FMA peak).
     */
    public static Map<String, Object> run(boolean quick) {
        return run(quick, null);
    }

    /**
     * As {@link #run(boolean)}, and when {@code blas} is given (the outcome of {@link SystemBlas#find}) each row also
     * gets {@code blas_gflops} (the system BLAS's median on the same shape and form) and {@code ratio_to_blas} (the
     * median over repetitions of ours / BLAS, each repetition timing ours and then BLAS back to back, so that both
     * sides of a ratio saw the same load on a shared machine); the result gets {@code blas} (the lookup's message). A
     * missing library only adds that message: our kernels are measured all the same.
     */
    public static Map<String, Object> run(boolean quick, SystemBlas.Lookup blas) {
        SystemBlas lib = blas == null ? null : blas.blas().orElse(null);
        FmaPeak.Result peak = FmaPeak.measure(quick ? 5_000_000L : 50_000_000L, quick ? 3 : 5);
        List<Shape> shapes = quick ? List.of(SHAPES.get(0), SHAPES.get(2), SHAPES.get(4)) : SHAPES;
        List<Map<String, Object>> results = new ArrayList<>();
        for (Shape s : shapes) {
            for (String form : FORMS) {
                double[][] timed = measure(s, form, lib, quick ? 3 : 7, quick ? 0.02 : 0.1, quick ? 0.3 : 1.0);
                double[] gflops = timed[0];
                double median = median(gflops), best = Arrays.stream(gflops).max().orElse(0);
                Map<String, Object> r = new LinkedHashMap<>();
                r.put("shape", "M=" + s.m() + " N=" + s.n() + " K=" + s.k());
                r.put("label", s.label());
                r.put("form", form);
                r.put("m", s.m());
                r.put("n", s.n());
                r.put("k", s.k());
                r.put("gflops", round(median));
                r.put("best_gflops", round(best));
                r.put("ms", Math.round(s.flops() / median / 1e3) / 1000.0);
                r.put("fraction_of_peak", Math.round(median / peak.totalGflops() * 1000) / 1000.0);
                if (lib != null) {
                    double[] ratios = new double[gflops.length];
                    for (int i = 0; i < ratios.length; i++) ratios[i] = gflops[i] / timed[1][i];
                    r.put("blas_gflops", round(median(timed[1])));
                    r.put("ratio_to_blas", Math.round(median(ratios) * 1000) / 1000.0);
                }
                results.add(r);
            }
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("kernels", Simd.describe());
        out.put("threads", Parallel.threads());
        out.put("vector_bits", peak.lanes() * 32);
        out.put("fma_peak_gflops", round(peak.totalGflops()));
        out.put("fma_peak_per_thread_gflops", round(peak.perThreadGflops()));
        if (blas != null) out.put("blas", blas.message());
        out.put("results", results);
        out.put("gemv", gemv(quick ? 4096 : 8192, 4096, quick ? 3 : 7));
        return out;
    }

    /**
     * F32 matrix-vector product ({@link Matmul#xwT} with one row, as in token-by-token generation) on an {@code n × k}
     * weight far larger than the caches, in GB/s of weight read, next to the memory read bandwidth
     * ({@link MemoryBandwidth}) measured right before on a buffer twice the weight's size: {@code gbs},
     * {@code memory_gbs}, {@code fraction_of_memory} (medians), {@code weight_mb}, {@code n}, {@code k}.
     */
    static Map<String, Object> gemv(int n, int k, int repeats) {
        long bytes = (long) n * k * Float.BYTES;
        double memory = MemoryBandwidth.measure(2 * bytes, repeats);
        SplittableRandom rnd = new SplittableRandom(2);
        float[] x = random(rnd, k), y = new float[n];
        double[] gbs = new double[repeats];
        try (Arena arena = Arena.ofShared()) {
            MemorySegment w = arena.allocate(bytes, 64);
            for (long i = 0; i < (long) n * k; i++) w.setAtIndex(F32, i, (float) (rnd.nextDouble() - 0.5));
            Runnable call = () -> Matmul.xwT(y, 0, x, 0, w, 0, 1, n, k, false);
            warmUp(call, 0.3);
            for (int r = 0; r < repeats; r++) {
                int calls = 5;
                long t0 = System.nanoTime();
                for (int c = 0; c < calls; c++) call.run();
                gbs[r] = (double) bytes * calls / (System.nanoTime() - t0);
            }
        }
        double median = median(gbs);
        Map<String, Object> g = new LinkedHashMap<>();
        g.put("n", n);
        g.put("k", k);
        g.put("weight_mb", bytes / (1 << 20));
        g.put("gbs", round(median));
        g.put("memory_gbs", round(memory));
        g.put("fraction_of_memory", Math.round(median / memory * 1000) / 1000.0);
        return g;
    }

    /**
     * GFLOP/s of each timed repetition of one form on one shape, after a warm-up: {@code [0]} of {@link Matmul}; when
     * {@code blas} is given, {@code [1]} of the system BLAS on native copies of the same inputs, repetition {@code i}
     * timed right after ours.
     */
    private static double[][] measure(Shape s, String form, SystemBlas blas, int repeats, double secondsPerRepeat,
                                      double warmupSeconds) {
        SplittableRandom rnd = new SplittableRandom(1);
        int m = s.m(), n = s.n(), k = s.k();
        float[] x = random(rnd, m * k), dy = random(rnd, m * n), y = new float[m * n], dx = new float[m * k];
        try (Arena arena = Arena.ofShared()) {
            MemorySegment w = arena.allocate((long) n * k * Float.BYTES, 64);
            MemorySegment dw = arena.allocate((long) n * k * Float.BYTES, 64);
            for (long i = 0; i < (long) n * k; i++) w.setAtIndex(F32, i, (float) (rnd.nextDouble() - 0.5));
            Runnable ours = switch (form) {
                case "xwT" -> () -> Matmul.xwT(y, 0, x, 0, w, 0, m, n, k, false);
                case "dyW" -> () -> Matmul.dyW(dx, 0, dy, 0, w, 0, m, n, k, false);
                case "dyTx" -> () -> Matmul.dyTx(dw, 0, dy, 0, x, 0, m, n, k);
                default -> throw new IllegalArgumentException("unknown matmul form '" + form + "'");
            };
            Runnable theirs = null;
            if (blas != null) {
                MemorySegment nx = native64(arena, x), ndy = native64(arena, dy);
                MemorySegment ny = native64(arena, y), ndx = native64(arena, dx);
                MemorySegment ndw = arena.allocate((long) n * k * Float.BYTES, 64);
                theirs = switch (form) {
                    case "xwT" -> () -> blas.xwT(ny, nx, w, m, n, k, false);
                    case "dyW" -> () -> blas.dyW(ndx, ndy, w, m, n, k, false);
                    default -> () -> blas.dyTx(ndw, ndy, nx, m, n, k);
                };
            }
            warmUp(ours, warmupSeconds);
            int oursCalls = callsFor(ours, secondsPerRepeat);
            int theirCalls = 0;
            if (theirs != null) {
                warmUp(theirs, 0.3);
                theirCalls = callsFor(theirs, secondsPerRepeat);
            }
            double[][] gflops = new double[2][repeats];
            for (int r = 0; r < repeats; r++) {
                gflops[0][r] = time(ours, oursCalls, s.flops());
                if (theirs != null) gflops[1][r] = time(theirs, theirCalls, s.flops());
            }
            return gflops;
        }
    }

    /** GFLOP/s of {@code calls} back-to-back calls. */
    private static double time(Runnable call, int calls, long flops) {
        long t0 = System.nanoTime();
        for (int c = 0; c < calls; c++) call.run();
        return (double) flops * calls / (System.nanoTime() - t0);
    }

    /**
     * Runs the call until C2 has compiled what it uses: at least {@code minSeconds}, then until two batches of 0.1 s in a
     * row are no longer clearly faster than the best so far (at most 5 s). Interpreted or C1 code does not intrinsify
     * the Vector API and runs many times slower, and on a busy machine the compiler threads can take seconds to get
     * there. The full run waits at least a second: a shape that takes a branch no earlier shape took (768×128×352's
     * 32-wide last panel) deoptimises the engine's compiled tile loop, and after 0.3 s and one flat batch the old rule
     * sometimes measured the re-profiling plateau (that dYᵀ·X at 85–93 GFLOP/s instead of 155–175, in 2 of 3 JVMs).
     */
    private static void warmUp(Runnable call, double minSeconds) {
        long start = System.nanoTime(), limit = start + 5_000_000_000L, min = (long) (minSeconds * 1e9);
        double best = Double.MAX_VALUE;
        int flat = 0;
        while (System.nanoTime() < limit) {
            long t0 = System.nanoTime();
            int n = 0;
            while (System.nanoTime() - t0 < 100_000_000L) {
                call.run();
                n++;
            }
            double perCall = (System.nanoTime() - t0) / (double) n;
            flat = perCall > 0.95 * best ? flat + 1 : 0;
            best = Math.min(best, perCall);
            if (System.nanoTime() - start > min && flat >= 2) return;
        }
    }

    /** How many calls make one repetition of about {@code seconds} (at least one). */
    private static int callsFor(Runnable call, double seconds) {
        call.run();
        long t0 = System.nanoTime();
        call.run();
        double one = Math.max(1, System.nanoTime() - t0) / 1e9;
        return (int) Math.max(1, Math.min(100_000, seconds / one));
    }

    /** A 64-byte-aligned native copy of {@code a} (the alignment our weight segments have too). */
    private static MemorySegment native64(Arena arena, float[] a) {
        MemorySegment seg = arena.allocate((long) a.length * Float.BYTES, 64);
        MemorySegment.copy(a, 0, seg, F32, 0, a.length);
        return seg;
    }

    private static float[] random(SplittableRandom rnd, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (rnd.nextDouble() - 0.5);
        return a;
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    private static double round(double v) {
        return Math.round(v * 10) / 10.0;
    }

    /** The result of {@link #run} as a human-readable table. */
    @SuppressWarnings("unchecked")
    public static String table(Map<String, Object> result) {
        StringBuilder sb = new StringBuilder();
        sb.append(result.get("kernels")).append('\n');
        sb.append(String.format(Locale.ROOT, "FMA peak: %s GFLOP/s (%s per thread)%n",
                result.get("fma_peak_gflops"), result.get("fma_peak_per_thread_gflops")));
        if (result.get("blas") != null) sb.append(result.get("blas")).append('\n');
        sb.append(String.format(Locale.ROOT, "%-6s %-26s %-5s %9s %9s %9s %7s %9s %6s%n",
                "label", "shape", "form", "GFLOP/s", "best", "ms", "peak", "BLAS", "ratio"));
        List<Map<String, Object>> rows = (List<Map<String, Object>>) result.get("results");
        for (Map<String, Object> r : rows) {
            boolean blas = r.get("blas_gflops") != null;
            sb.append(String.format(Locale.ROOT, "%-6s %-26s %-5s %9.1f %9.1f %9.3f %6.0f%% %9s %6s%n",
                    r.get("label"), r.get("shape"), r.get("form"), (Double) r.get("gflops"),
                    (Double) r.get("best_gflops"), (Double) r.get("ms"),
                    100 * (Double) r.get("fraction_of_peak"),
                    blas ? String.format(Locale.ROOT, "%.1f", (Double) r.get("blas_gflops")) : "-",
                    blas ? String.format(Locale.ROOT, "%.2f", (Double) r.get("ratio_to_blas")) : "-"));
        }
        if (result.get("gemv") instanceof Map<?, ?> g) {
            sb.append(String.format(Locale.ROOT, "GEMV F32 %sx%s (%s MB): %s GB/s, memory read %s GB/s, %.0f%% of it%n",
                    g.get("n"), g.get("k"), g.get("weight_mb"), g.get("gbs"), g.get("memory_gbs"),
                    100 * (Double) g.get("fraction_of_memory")));
        }
        return sb.toString();
    }

    /** Manual run: {@code KernelBench [--quick] [--json] [--compare-blas]}. */
    public static void main(String[] args) throws Exception {
        List<String> a = List.of(args);
        for (String arg : a) {
            if (!arg.equals("--quick") && !arg.equals("--json") && !arg.equals("--compare-blas"))
                throw new IllegalArgumentException("unknown option '" + arg + "'; use --quick, --json, --compare-blas");
        }
        Map<String, Object> result = run(a.contains("--quick"),
                a.contains("--compare-blas") ? SystemBlas.find(null, Parallel.threads()) : null);
        if (a.contains("--json")) {
            System.out.println(new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
                    .writeValueAsString(result));
        } else {
            System.out.print(table(result));
        }
    }
}

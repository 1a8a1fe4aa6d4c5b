package dev.patchwork.bench;

import dev.patchwork.tensor.Parallel;
import dev.patchwork.tensor.Simd;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Measures this machine's FP32 fused multiply-add peak with the Vector API, so kernel figures can be reported as a
 * fraction of what the hardware can actually do here (not of a datasheet number that a VM or a busy neighbour may
 * never reach).
 *
 * <p>Each thread runs twelve independent FMA chains held in registers: more chains than FMA latency × throughput on
 * current x86 and ARM cores (e.g. 4 cycles × 2 pipes), so the loop is bound by FMA throughput, not latency. The
 * multiplier is just below 1 and the addend tiny, so the chains converge instead of overflowing or going denormal.
 */
public final class FmaPeak {
    /** Result of one probe: GFLOP/s of one thread alone and of all threads together (one FMA = 2 flops). */
    public record Result(double perThreadGflops, double totalGflops, int threads, int lanes) {}

    private static final VectorSpecies<Float> F = Simd.F;
    private static final int CHAINS = 12;
    private static volatile float sink;

    private FmaPeak() {}

    /** Best of {@code repeats} timed runs of {@code iterations} loop trips per thread, single-threaded and all-threads. */
    public static Result measure(long iterations, int repeats) {
        if (iterations < 1 || repeats < 1)
            throw new IllegalArgumentException("FmaPeak needs iterations >= 1 and repeats >= 1, got "
                    + iterations + " and " + repeats);
        double flopsPerThread = 2.0 * CHAINS * F.length() * iterations;
        chains(Math.min(iterations, 200_000)); // JIT warm-up
        double single = 0;
        for (int r = 0; r < repeats; r++) {
            long t0 = System.nanoTime();
            sink += chains(iterations);
            single = Math.max(single, flopsPerThread / (System.nanoTime() - t0));
        }
        int threads = Parallel.threads();
        double total = 0;
        for (int r = 0; r < repeats; r++) {
            long t0 = System.nanoTime();
            Parallel.forChunks(threads, threads, (c, s, e) -> sink += chains(iterations));
            total = Math.max(total, flopsPerThread * threads / (System.nanoTime() - t0));
        }
        return new Result(single, total, threads, F.length());
    }

    /** Twelve independent FMA chains; returns a value derived from all of them so none can be optimised away. */
    private static float chains(long iterations) {
        FloatVector m = FloatVector.broadcast(F, 0.999999f);
        FloatVector add = FloatVector.broadcast(F, 1e-7f);
        FloatVector c0 = FloatVector.broadcast(F, 0.1f), c1 = FloatVector.broadcast(F, 0.2f);
        FloatVector c2 = FloatVector.broadcast(F, 0.3f), c3 = FloatVector.broadcast(F, 0.4f);
        FloatVector c4 = FloatVector.broadcast(F, 0.5f), c5 = FloatVector.broadcast(F, 0.6f);
        FloatVector c6 = FloatVector.broadcast(F, 0.7f), c7 = FloatVector.broadcast(F, 0.8f);
        FloatVector c8 = FloatVector.broadcast(F, 0.9f), c9 = FloatVector.broadcast(F, 1.0f);
        FloatVector c10 = FloatVector.broadcast(F, 1.1f), c11 = FloatVector.broadcast(F, 1.2f);
        for (long i = 0; i < iterations; i++) {
            c0 = c0.fma(m, add); c1 = c1.fma(m, add); c2 = c2.fma(m, add); c3 = c3.fma(m, add);
            c4 = c4.fma(m, add); c5 = c5.fma(m, add); c6 = c6.fma(m, add); c7 = c7.fma(m, add);
            c8 = c8.fma(m, add); c9 = c9.fma(m, add); c10 = c10.fma(m, add); c11 = c11.fma(m, add);
        }
        FloatVector s = c0.add(c1).add(c2).add(c3).add(c4).add(c5).add(c6).add(c7).add(c8).add(c9).add(c10).add(c11);
        return s.reduceLanes(VectorOperators.ADD);
    }

    public static void main(String[] args) {
        Result r = measure(50_000_000L, 5);
        System.out.printf("FMA peak (%d-bit, %d threads): %.1f GFLOP/s per thread, %.1f GFLOP/s total%n",
                r.lanes() * 32, r.threads(), r.perThreadGflops(), r.totalGflops());
    }
}

package dev.patchwork.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.Arrays;

import dev.patchwork.tensor.Parallel;
import dev.patchwork.tensor.Simd;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The machine's memory read bandwidth, measured the way a matrix-vector product reads its weights: a stream-like
 * pass of vector loads over a buffer far larger than the last-level cache, split across the {@link Parallel} team in
 * contiguous ranges. This is the yardstick for the GEMV figure of {@code patchwork bench kernels} (weights that do
 * not fit in cache can go no faster than memory delivers them).
 */
public final class MemoryBandwidth {
    private static final VectorSpecies<Float> F = Simd.F;
    private static final int L = F.length();
    private static final ByteOrder ORDER = ByteOrder.LITTLE_ENDIAN;

    /** Keeps the sums alive so the JIT cannot drop the loads. */
    static volatile float sink;

    private MemoryBandwidth() {}

    /**
     * Median read bandwidth in GB/s (10^9 bytes per second) of {@code repeats} passes over a fresh buffer of
     * {@code bytes} (rounded down to whole vectors), after one untimed pass (page faults, JIT).
     */
    public static double measure(long bytes, int repeats) {
        if (bytes < 1024 || repeats < 1)
            throw new IllegalArgumentException("memory probe needs >= 1024 bytes and >= 1 repeat, got " + bytes + ", " + repeats);
        long vecBytes = (long) L * Float.BYTES;
        long size = bytes / (4 * vecBytes) * (4 * vecBytes);
        try (Arena arena = Arena.ofShared()) {
            MemorySegment buf = arena.allocate(size, 64);
            buf.fill((byte) 1);
            int blocks = (int) (size / (4 * vecBytes));
            float[] partial = new float[Parallel.threads()];
            Parallel.ChunkBody pass = (c, b0, b1) -> partial[c] = read(buf, (long) b0 * 4 * vecBytes, (long) b1 * 4 * vecBytes);
            Parallel.forChunks(blocks, Parallel.threads(), pass);
            double[] gbs = new double[repeats];
            for (int r = 0; r < repeats; r++) {
                long t0 = System.nanoTime();
                Parallel.forChunks(blocks, Parallel.threads(), pass);
                gbs[r] = (double) size / (System.nanoTime() - t0);
                float s = 0;
                for (float p : partial) s += p;
                sink = s;
            }
            Arrays.sort(gbs);
            return gbs[repeats / 2];
        }
    }

    /** Sums the bytes {@code [from, to)} (a multiple of four vectors) as floats, four independent accumulators. */
    private static float read(MemorySegment buf, long from, long to) {
        long vb = (long) L * Float.BYTES;
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        for (long o = from; o < to; o += 4 * vb) {
            a0 = a0.add(FloatVector.fromMemorySegment(F, buf, o, ORDER));
            a1 = a1.add(FloatVector.fromMemorySegment(F, buf, o + vb, ORDER));
            a2 = a2.add(FloatVector.fromMemorySegment(F, buf, o + 2 * vb, ORDER));
            a3 = a3.add(FloatVector.fromMemorySegment(F, buf, o + 3 * vb, ORDER));
        }
        float[] lanes = a0.add(a1).add(a2.add(a3)).toArray(); // once per pass: the sum only has to exist
        float s = 0;
        for (float v : lanes) s += v;
        return s;
    }
}

package dev.patchwork.tensor;

import java.lang.foreign.MemorySegment;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * One fixed team of worker threads for every parallel kernel, with static partitioning.
 *
 * <p>Why not a ForkJoinPool or parallel streams: kernels in a training step are short (tens of microseconds), so the
 * hand-off must be cheap, and results must not depend on scheduling. Work {@code [0, n)} is split into one contiguous
 * chunk per thread in a fixed order, so every run with the same thread count does the same float operations in the
 * same order (bit-identical resumes). The caller runs chunk 0 itself; workers spin briefly, then park.
 *
 * <p>Nested calls (a parallel kernel called from inside a parallel region) run serially on the calling thread.
 */
public final class Parallel {
    /** A body that processes the half-open range {@code [start, end)}. */
    @FunctionalInterface
    public interface RangeBody {
        void run(int start, int end);
    }

    /** A body that processes chunk {@code chunk} of {@code chunks}, e.g. to write a per-thread partial result. */
    @FunctionalInterface
    public interface ChunkBody {
        void run(int chunk, int start, int end);
    }

    private static final int THREADS = configuredThreads();
    private static final Worker[] WORKERS = new Worker[THREADS - 1];
    private static final ThreadLocal<Boolean> INSIDE = ThreadLocal.withInitial(() -> false);
    private static final Object SUBMIT_LOCK = new Object();

    /*
     * The current parallel region, published without allocating (a training step opens thousands of regions; an
     * object per region was most of the step's garbage). A sequence lock: the submitter makes {@code sequence} odd,
     * writes the fields, then makes it even; a worker reads an even sequence, the fields, and the sequence again,
     * and uses the fields only if it did not change. That matters only for a worker outside the region (index >=
     * chunks), which the submitter does not wait for and which may still be reading while the next region is written.
     */
    private static volatile ChunkBody jobBody;
    private static volatile RangeBody jobRange; // set instead of jobBody by forRange
    private static volatile int jobN, jobChunks;
    private static volatile long sequence; // written only under SUBMIT_LOCK
    private static final AtomicInteger pending = new AtomicInteger();
    private static volatile Throwable failure;
    private static volatile Thread submitter;

    static {
        for (int i = 0; i < WORKERS.length; i++) {
            WORKERS[i] = new Worker(i + 1);
            WORKERS[i].start();
        }
    }

    private Parallel() {}

    private static int configuredThreads() {
        String p = System.getProperty("patchwork.threads", System.getenv("PATCHWORK_THREADS"));
        int n = Runtime.getRuntime().availableProcessors();
        if (p != null && !p.isBlank()) {
            try {
                n = Integer.parseInt(p.trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("patchwork.threads must be a positive integer, got '" + p + "'");
            }
            if (n < 1) throw new IllegalArgumentException("patchwork.threads must be >= 1, got " + n);
        }
        return n;
    }

    /** Number of threads in the team, including the calling thread. */
    public static int threads() {
        return THREADS;
    }

    /**
     * Threads a region started from the calling thread would run on: 1 inside a region (nested calls run serially),
     * else {@link #threads()}. Kernels size their split by this, so that a call inside a region (a training replica's
     * kernels, see {@code ReplicaTeam}) does its work in one piece instead of in chunks run one after another.
     */
    public static int available() {
        return INSIDE.get() ? 1 : THREADS;
    }

    /**
     * False for a segment of a confined arena, which only its owner thread may touch: kernels on such a segment run on
     * the calling thread instead of failing in a worker. The probe is a thread that never runs, so it owns nothing.
     */
    public static boolean sharedAcrossThreads(MemorySegment s) {
        return s == null || s.isAccessibleBy(NOT_AN_OWNER);
    }

    private static final Thread NOT_AN_OWNER = Thread.ofPlatform().unstarted(() -> {});

    /** Start of chunk {@code c} when {@code n} items are split into {@code chunks} near-equal contiguous chunks. */
    public static int chunkStart(int n, int chunks, int c) {
        return (int) ((long) n * c / chunks);
    }

    /** Runs {@code body} over {@code [0, n)} split across the team. */
    public static void forRange(int n, RangeBody body) {
        run(n, Math.min(THREADS, n), null, body);
    }

    /** Runs {@code body} over {@code [0, n)} in at most {@code chunks} contiguous chunks (1: on the calling thread). */
    public static void forRange(int n, int chunks, RangeBody body) {
        run(n, chunks, null, body);
    }

    /**
     * Runs {@code body} over {@code [0, n)} in exactly {@code chunks} contiguous chunks (at most {@link #threads()}),
     * chunk {@code c} on thread {@code c}. Use when each chunk writes its own partial result.
     */
    public static void forChunks(int n, int chunks, ChunkBody body) {
        run(n, chunks, body, null);
    }

    /** Runs one region: chunk {@code c} of {@code [0, n)} goes to {@code body} (or, when that is null, {@code range}). */
    private static void run(int n, int chunks, ChunkBody body, RangeBody range) {
        if (n <= 0) return;
        chunks = Math.max(1, Math.min(chunks, Math.min(THREADS, n)));
        if (chunks == 1 || INSIDE.get()) {
            for (int c = 0; c < chunks; c++) runChunk(body, range, c, chunkStart(n, chunks, c), chunkStart(n, chunks, c + 1));
            return;
        }
        synchronized (SUBMIT_LOCK) {
            failure = null;
            submitter = Thread.currentThread();
            pending.set(chunks - 1);
            long seq = sequence;
            sequence = seq + 1; // odd: being written
            jobBody = body;
            jobRange = range;
            jobN = n;
            jobChunks = chunks;
            sequence = seq + 2; // even again: publishes the region to the workers
            for (int i = 0; i < chunks - 1; i++) WORKERS[i].wake();
            INSIDE.set(true);
            try {
                runChunk(body, range, 0, 0, chunkStart(n, chunks, 1));
            } finally {
                INSIDE.set(false);
                awaitWorkers();
            }
            Throwable f = failure;
            if (f instanceof RuntimeException re) throw re;
            if (f instanceof Error er) throw er;
            if (f != null) throw new RuntimeException(f);
        }
    }

    private static void runChunk(ChunkBody body, RangeBody range, int chunk, int start, int end) {
        if (body != null) body.run(chunk, start, end);
        else range.run(start, end);
    }

    /**
     * Ids of the team's threads other than callers (for per-thread accounting such as
     * {@code ThreadMXBean.getThreadAllocatedBytes}); empty with one thread.
     */
    public static long[] workerThreadIds() {
        long[] ids = new long[WORKERS.length];
        for (int i = 0; i < ids.length; i++) ids[i] = WORKERS[i].threadId();
        return ids;
    }

    private static void awaitWorkers() {
        long start = System.nanoTime();
        for (int spins = 0; pending.get() > 0; spins++) idle(spins, start);
    }

    /**
     * One round of waiting: spin first (a hand-off then costs well under a microsecond), then yield so that a
     * descheduled worker can run when the machine is oversubscribed, then park briefly. Pure spinning made training
     * 5x slower when another process shared the two cores.
     */
    private static void idle(int spins, long start) {
        if (spins < 256) Thread.onSpinWait();
        else if (System.nanoTime() - start < 200_000) Thread.yield();
        else LockSupport.parkNanos(50_000);
    }

    private static final class Worker extends Thread {
        private final int index;
        private long seen; // the sequence number of the last region this worker looked at

        Worker(int index) {
            super("patchwork-worker-" + index);
            this.index = index;
            setDaemon(true);
        }

        void wake() {
            LockSupport.unpark(this);
        }

        @Override
        public void run() {
            INSIDE.set(true);
            while (true) {
                long seq;
                long start = System.nanoTime();
                for (int spins = 0; ((seq = sequence) & 1) != 0 || seq == seen; spins++) {
                    if (spins < 256) Thread.onSpinWait();
                    else if (System.nanoTime() - start < 1_000_000) Thread.yield(); // stay ready between kernels of a step
                    else LockSupport.park(this);
                }
                ChunkBody body = jobBody;
                RangeBody range = jobRange;
                int n = jobN, chunks = jobChunks;
                if (sequence != seq) continue; // a newer region was being written meanwhile: read that one
                seen = seq;
                if (index >= chunks) continue;
                try {
                    runChunk(body, range, index, chunkStart(n, chunks, index), chunkStart(n, chunks, index + 1));
                } catch (Throwable t) {
                    failure = t;
                } finally {
                    if (pending.decrementAndGet() == 0) LockSupport.unpark(submitter);
                }
            }
        }
    }
}

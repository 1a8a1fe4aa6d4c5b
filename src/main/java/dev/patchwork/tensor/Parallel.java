package dev.patchwork.tensor;

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

    /** One submitted parallel region; {@code generation} tells workers whether they have already run it. */
    private record Job(ChunkBody body, int n, int chunks, long generation) {}

    private static volatile Job current;
    private static long generation; // guarded by SUBMIT_LOCK
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

    /** Start of chunk {@code c} when {@code n} items are split into {@code chunks} near-equal contiguous chunks. */
    public static int chunkStart(int n, int chunks, int c) {
        return (int) ((long) n * c / chunks);
    }

    /** Runs {@code body} over {@code [0, n)} split across the team. */
    public static void forRange(int n, RangeBody body) {
        forChunks(n, Math.min(THREADS, n), (c, s, e) -> body.run(s, e));
    }

    /**
     * Runs {@code body} over {@code [0, n)} in exactly {@code chunks} contiguous chunks (at most {@link #threads()}),
     * chunk {@code c} on thread {@code c}. Use when each chunk writes its own partial result.
     */
    public static void forChunks(int n, int chunks, ChunkBody body) {
        if (n <= 0) return;
        chunks = Math.max(1, Math.min(chunks, Math.min(THREADS, n)));
        if (chunks == 1 || INSIDE.get()) {
            for (int c = 0; c < chunks; c++) body.run(c, chunkStart(n, chunks, c), chunkStart(n, chunks, c + 1));
            return;
        }
        synchronized (SUBMIT_LOCK) {
            failure = null;
            submitter = Thread.currentThread();
            pending.set(chunks - 1);
            current = new Job(body, n, chunks, ++generation); // publishes the job to the workers
            for (int i = 0; i < chunks - 1; i++) WORKERS[i].wake();
            INSIDE.set(true);
            try {
                body.run(0, 0, chunkStart(n, chunks, 1));
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
        private long seen;

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
                Job j;
                long start = System.nanoTime();
                for (int spins = 0; (j = current) == null || j.generation == seen; spins++) {
                    if (spins < 256) Thread.onSpinWait();
                    else if (System.nanoTime() - start < 1_000_000) Thread.yield(); // stay ready between kernels of a step
                    else LockSupport.park(this);
                }
                seen = j.generation;
                if (index >= j.chunks) continue;
                try {
                    j.body.run(index, chunkStart(j.n, j.chunks, index), chunkStart(j.n, j.chunks, index + 1));
                } catch (Throwable t) {
                    failure = t;
                } finally {
                    if (pending.decrementAndGet() == 0) LockSupport.unpark(submitter);
                }
            }
        }
    }
}

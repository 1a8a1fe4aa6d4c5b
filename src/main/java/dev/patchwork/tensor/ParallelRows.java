package dev.patchwork.tensor;

/**
 * Decides whether a row-wise kernel is worth handing to the thread team. A hand-off costs a few microseconds (wake
 * the workers, wait for the slowest), so below about 16k floats of work a single thread finishes sooner.
 *
 * <p>Every row-wise kernel here computes each row on one thread with the same operations whichever thread it is, so
 * their results do not even depend on the thread count.
 */
final class ParallelRows {
    /** Floats of work below which kernels run on the calling thread. */
    static final long MIN_PARALLEL_WORK = 16_384;

    private ParallelRows() {}

    /** How many chunks to split {@code items} into when each costs {@code workPerItem} floats of work. */
    static int chunks(int items, long workPerItem) {
        if (items <= 1 || (long) items * workPerItem < MIN_PARALLEL_WORK) return 1;
        return Math.min(Parallel.available(), items);
    }

    /** Runs {@code body} over rows {@code [0, rows)}, split across the team only when the work pays for it. */
    static void forRows(int rows, long workPerRow, Parallel.RangeBody body) {
        Parallel.forRange(rows, chunks(rows, workPerRow), body);
    }
}

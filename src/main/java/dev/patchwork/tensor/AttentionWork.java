package dev.patchwork.tensor;

/**
 * Spreads the work items of an attention pass over the {@link Parallel} team. Items are (block, group) pairs in
 * block-major order (block = a block of queries or keys, group = head or kv head); block {@code b} has an estimated
 * cost {@code prefix[b+1] − prefix[b]}, the same in every group. Each thread takes one contiguous run of items of
 * near-equal total cost: causal attention makes late query blocks far dearer than early ones, so equal item counts
 * would leave threads idle.
 *
 * <p>Why block-major: a thread then reads and writes the rows of a contiguous range of positions, all heads, which is
 * how the matrix products and row kernels before and after attention split their rows too, so the attention's inputs
 * and outputs stay in the cache of the core that uses them next. Head-major order gave each thread every row of some
 * heads: half of each row the next product read had last been written by the other core (measured on a 768×704×128
 * X·Wᵀ: 13% slower when the other core had written its input rows), and each backward chunk's dq sums spanned every
 * query.
 *
 * <p>Every item writes only its own outputs, computed the same way whichever thread runs it, except the backward's dq
 * terms, which each chunk sums on its own ({@link AttentionScratch#chunk}; see {@code AttentionBackward}): the split
 * depends only on the costs and the threads available ({@link Parallel#available()}: one inside a parallel region),
 * so a fixed thread count gives the same results every run.
 */
final class AttentionWork {
    /** One work item. */
    @FunctionalInterface
    interface Item {
        void run(int group, int block, AttentionScratch scratch);
    }

    /** Below this many estimated FMAs (a few microseconds of work) waking the team costs more than it saves. */
    private static final long SERIAL_BELOW_FMAS = 1 << 18;

    private AttentionWork() {}

    /**
     * Runs every item; {@code fmasPerUnit} converts the cost units of {@code prefix} into FMAs, to decide whether the
     * call is worth spreading over the team; {@code hd} sizes the scratch buffers.
     */
    static void run(int groups, int blocks, long[] prefix, long fmasPerUnit, int hd, Item item) {
        int items = groups * blocks;
        if (items == 0) return;
        int chunks = chunks(groups, blocks, prefix, fmasPerUnit);
        Chunks body = CHUNKS.get();
        body.set(groups, blocks, prefix, hd, item, chunks);
        try {
            Parallel.forChunks(chunks, chunks, body);
        } finally {
            body.set(0, 0, null, 0, null, 0);
        }
    }

    /**
     * How many chunks {@link #run} splits these items into (chunk {@code c} runs on thread {@code c}, and its items see
     * {@code c} in {@link AttentionScratch#chunk}): 1 when the work is too small to share, else one per thread.
     */
    static int chunks(int groups, int blocks, long[] prefix, long fmasPerUnit) {
        int items = groups * blocks;
        long total = prefix[blocks] * groups;
        return items == 0 ? 0 : total * fmasPerUnit < SERIAL_BELOW_FMAS ? 1 : Math.min(Parallel.available(), items);
    }

    /** The first item of chunk {@code c} of {@code chunks} (chunk c runs items {@code [firstItem(c), firstItem(c+1))}). */
    static int firstItem(int c, int chunks, int groups, int blocks, long[] prefix) {
        return firstItemReaching(prefix[blocks] * groups * c / chunks, groups, blocks, prefix);
    }

    /** The split of the items, as one reusable object per calling thread: a capturing lambda would allocate per call. */
    private static final class Chunks implements Parallel.ChunkBody {
        private int groups, blocks, hd, chunks;
        private long[] prefix;
        private Item item;

        void set(int groups, int blocks, long[] prefix, int hd, Item item, int chunks) {
            this.groups = groups;
            this.blocks = blocks;
            this.prefix = prefix;
            this.hd = hd;
            this.item = item;
            this.chunks = chunks;
        }

        @Override
        public void run(int c, int s, int e) {
            AttentionScratch scratch = AttentionScratch.get(hd);
            scratch.chunk = c;
            int end = firstItem(c + 1, chunks, groups, blocks, prefix);
            for (int x = firstItem(c, chunks, groups, blocks, prefix); x < end; x++)
                item.run(x % groups, x / groups, scratch);
        }
    }

    private static final ThreadLocal<Chunks> CHUNKS = ThreadLocal.withInitial(Chunks::new);

    /** The block of item {@code x}. */
    static int block(int x, int groups) {
        return x / groups;
    }

    /** The smallest item index whose cost before it is at least {@code target} (binary search). */
    private static int firstItemReaching(long target, int groups, int blocks, long[] prefix) {
        int lo = 0, hi = groups * blocks;
        while (lo < hi) {
            int mid = (lo + hi) >>> 1;
            int b = mid / groups;
            long before = prefix[b] * groups + (long) (mid % groups) * (prefix[b + 1] - prefix[b]);
            if (before >= target) hi = mid;
            else lo = mid + 1;
        }
        return lo;
    }
}

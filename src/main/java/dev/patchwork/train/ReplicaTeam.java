package dev.patchwork.train;

import dev.patchwork.tensor.Parallel;
import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.tensor.ParameterLayout;
import dev.patchwork.tensor.VectorOps;

/**
 * Data-parallel training steps over the thread team: a batch's rows (sequences) are cut into contiguous shares, and
 * each share runs forward, loss and backward on a replica of the model (same parameters, activations of its own),
 * with every kernel inside on that replica's thread alone; the replicas' gradients are then summed in replica order.
 * Two parallel regions per step (forward, backward) and one for the sum, where splitting every product, norm and
 * attention call across the cores takes about a hundred. {@link WindowReplicas} and {@link BltReplicas} give the
 * models' shares.
 *
 * <p>Why: a small model's products (768 × 384 × 128 for the byte-LM config) are short, so each split call pays a
 * hand-off and leaves the threads' output rows on different cores for the next call; when the host puts the two vCPUs
 * on different core complexes, each such exchange is slow. Measured with two threads, both ways alternating in one
 * JVM: byte-LM config 25,500–27,300 bytes/s on replicas against 21,200–27,000 splitting each kernel (in the slow
 * phases of the second the first held 25,500); BLT-10m 7.8% faster in the median. See docs/performance.md.
 *
 * <p>The gradient is that of the batch's mean loss: each replica divides its summed loss by the batch's count of
 * targets. Results depend on the number of replicas (the sums are grouped differently), not on the number of threads:
 * the replicas are split into contiguous runs over whatever team there is, and kernels called inside a parallel region
 * do their work in one piece ({@link Parallel#available()}). Replica 0 adds into the caller's gradient buffer; the
 * others own a buffer each, zeroed by their own thread.
 */
public final class ReplicaTeam implements Parallel.RangeBody {
    /** One replica's part of a step: its model's forward, loss and backward on rows of the current batch. */
    public interface Replica {
        /**
         * Forward and loss of rows {@code [from, to)} of the current batch; with {@code withGradient}, prepares the
         * gradient of the summed loss divided by {@code meanOver}. Returns the summed loss in nats.
         */
        double forwardLoss(int from, int to, long meanOver, boolean withGradient);

        /** Adds the gradient prepared by the last {@link #forwardLoss} into {@code grads}. */
        void backward(ParameterBuffer grads);
    }

    private final Replica[] replicas;
    /** The gradients of replicas 1.. (index 0 unused: replica 0 adds into the caller's buffer). */
    private final ParameterBuffer[] grads;
    private final double[] losses;
    private int rows, active;
    private long meanOver;
    private boolean backward, withGradient;
    private ParameterBuffer callerGrads; // set during backward: replica 0's target

    /** A team of {@code count} replicas over parameters of {@code layout}, replica r made by {@code replica}. */
    static ReplicaTeam of(ParameterLayout layout, int count, java.util.function.IntFunction<Replica> replica) {
        if (count < 1) throw new IllegalArgumentException("replicas must be >= 1, got " + count);
        Replica[] replicas = new Replica[count];
        for (int r = 0; r < count; r++) replicas[r] = replica.apply(r);
        return new ReplicaTeam(layout, replicas);
    }

    private ReplicaTeam(ParameterLayout layout, Replica[] replicas) {
        this.replicas = replicas;
        this.grads = new ParameterBuffer[replicas.length];
        for (int r = 1; r < replicas.length; r++) grads[r] = ParameterBuffer.allocate(layout);
        this.losses = new double[replicas.length];
    }

    /** The replicas a batch of {@code batch} sequences gets: one per thread of the team, at most one per sequence. */
    public static int replicasFor(int batch) {
        return Math.max(1, Math.min(Parallel.threads(), batch));
    }

    /**
     * Native bytes per parameter of a training run whose batch has {@code batch} sequences: parameters, gradients and
     * two AdamW moments (16), plus the gradients of each replica after the first (4 each).
     */
    public static long nativeBytesPerParameter(int batch) {
        return 16 + 4L * (replicasFor(batch) - 1);
    }

    int size() {
        return replicas.length;
    }

    /**
     * Forward and loss of a batch of {@code rows} rows, shared by the first {@code min(replicas, rows)} replicas;
     * with {@code withGradient} prepares the gradient of the summed loss divided by {@code meanOver} for
     * {@link #backward}. Returns the summed loss.
     */
    double forwardLoss(int rows, long meanOver, boolean withGradient) {
        if (rows < 1) throw new IllegalArgumentException("a batch needs at least one row, got " + rows);
        this.rows = rows;
        this.active = Math.min(replicas.length, rows);
        this.meanOver = meanOver;
        this.withGradient = withGradient;
        if (active == 1) return replicas[0].forwardLoss(0, rows, meanOver, withGradient);
        backward = false;
        Parallel.forRange(active, this);
        double sum = 0;
        for (int r = 0; r < active; r++) sum += losses[r];
        return sum;
    }

    /** Adds the gradient prepared by the last {@link #forwardLoss} with a gradient into {@code grads}. */
    void backward(ParameterBuffer grads) {
        if (!withGradient) throw new IllegalStateException("backward needs a forwardLoss with a gradient first");
        if (active == 1) {
            replicas[0].backward(grads);
            return;
        }
        callerGrads = grads;
        backward = true;
        try {
            Parallel.forRange(active, this);
        } finally {
            callerGrads = null;
        }
        for (int r = 1; r < active; r++)
            VectorOps.addInPlace(grads.segment(), this.grads[r].segment(), grads.layout().totalFloats());
    }

    /** Replicas {@code [r0, r1)}, one after another on this thread. */
    @Override
    public void run(int r0, int r1) {
        for (int r = r0; r < r1; r++) {
            if (backward) {
                ParameterBuffer g = r == 0 ? callerGrads : grads[r];
                if (r > 0) g.zero(); // on the thread that fills it, so its lines stay in this core's cache
                replicas[r].backward(g);
            } else {
                losses[r] = replicas[r].forwardLoss(Parallel.chunkStart(rows, active, r),
                        Parallel.chunkStart(rows, active, r + 1), meanOver, withGradient);
            }
        }
    }
}

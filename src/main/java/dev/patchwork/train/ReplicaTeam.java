package dev.patchwork.train;

import dev.patchwork.model.WindowModel;
import dev.patchwork.tensor.CrossEntropyKernel;
import dev.patchwork.tensor.Parallel;
import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.tensor.VectorOps;

/**
 * Data-parallel training steps over the thread team: the batch is cut into {@code replicas} contiguous shares of
 * sequences, and each share runs forward, loss and backward on a replica of the model (same parameters, activations
 * of its own), with every kernel inside on that replica's thread alone; the replicas' gradients are then summed in
 * replica order. Two parallel regions per step (forward, backward) and one for the sum, where splitting every product,
 * norm and attention call across the cores takes about a hundred.
 *
 * <p>Why: a small model's products (768 × 384 × 128 for the byte-LM config) are short, so each split call pays a
 * hand-off and leaves the threads' output rows on different cores for the next call; when the host puts the two vCPUs
 * on different core complexes, each such exchange is slow. Measured on the byte-LM config (two threads, alternating
 * phases in one JVM): 25,500–27,300 bytes/s with replicas against 21,200–27,000 splitting each kernel; in the slow
 * phases of the second the first held 25,500. See docs/performance.md.
 *
 * <p>The gradient is that of the batch's mean loss: each replica divides its summed loss by the batch's count of
 * targets ({@link WindowModel#loss(int[], long)}). Results depend on the number of replicas (its sums are grouped
 * differently), not on the number of threads: the replicas are split into contiguous runs over whatever team there is.
 * Replica 0 is the model itself and adds into the caller's gradient buffer; the others own a buffer each.
 */
public final class ReplicaTeam implements Parallel.RangeBody {
    private final WindowModel[] replicas;
    /** The gradients of replicas 1.. (index 0 unused: replica 0 adds into the caller's buffer). */
    private final ParameterBuffer[] grads;
    private final int[][] inputs, targets;
    private final double[] losses;
    private int batch, seqLen;
    private long meanOver;
    private ParameterBuffer callerGrads; // set during backward: replica 0's target
    private boolean backward, withGradient;

    /** {@code replicas} replicas of {@code model} (1: the model alone, as if there were no team). */
    public ReplicaTeam(WindowModel model, int replicas) {
        if (replicas < 1) throw new IllegalArgumentException("replicas must be >= 1, got " + replicas);
        this.replicas = new WindowModel[replicas];
        this.grads = new ParameterBuffer[replicas];
        this.replicas[0] = model;
        for (int r = 1; r < replicas; r++) {
            this.replicas[r] = model.replica();
            this.grads[r] = ParameterBuffer.allocate(model.layout());
        }
        this.inputs = new int[replicas][0];
        this.targets = new int[replicas][0];
        this.losses = new double[replicas];
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

    public int replicas() {
        return replicas.length;
    }

    /**
     * Forward and loss of {@code x[B·T]} against {@code y} (negative targets ignored), each replica on its share;
     * prepares the gradient of the batch's mean loss for {@link #backward}. Returns the summed loss in nats.
     */
    public double forwardLoss(int[] x, int[] y, int B, int T) {
        return forward(x, y, B, T, true);
    }

    private double forward(int[] x, int[] y, int B, int T, boolean withGradient) {
        if (B < replicas.length)
            throw new IllegalArgumentException("a batch of " + B + " sequences cannot be shared by " + replicas.length + " replicas");
        if (replicas.length == 1) {
            replicas[0].forward(x, B, T);
            return withGradient ? replicas[0].loss(y, CrossEntropyKernel.counted(y, B * T)) : replicas[0].loss(y, null, false);
        }
        batch = B;
        seqLen = T;
        this.withGradient = withGradient;
        meanOver = CrossEntropyKernel.counted(y, B * T);
        for (int r = 0; r < replicas.length; r++) {
            int from = first(r) * T, n = first(r + 1) * T - from;
            if (inputs[r].length != n) {
                inputs[r] = new int[n];
                targets[r] = new int[n];
            }
            System.arraycopy(x, from, inputs[r], 0, n);
            System.arraycopy(y, from, targets[r], 0, n);
        }
        backward = false;
        Parallel.forRange(replicas.length, this);
        double sum = 0;
        for (double l : losses) sum += l;
        return sum;
    }

    /**
     * The summed loss of {@code x[B·T]} against {@code y} without a gradient (evaluation), each replica on its share,
     * so evaluation runs the same compiled paths as the training steps around it.
     */
    public double loss(int[] x, int[] y, int B, int T) {
        return forward(x, y, B, T, false);
    }

    /** Adds the gradient prepared by the last {@link #forwardLoss} into {@code grads}. */
    public void backward(ParameterBuffer grads) {
        if (replicas.length == 1) {
            replicas[0].backward(grads);
            return;
        }
        callerGrads = grads;
        backward = true;
        try {
            Parallel.forRange(replicas.length, this);
        } finally {
            callerGrads = null;
        }
        for (int r = 1; r < replicas.length; r++)
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
                replicas[r].forward(inputs[r], first(r + 1) - first(r), seqLen);
                losses[r] = withGradient ? replicas[r].loss(targets[r], meanOver) : replicas[r].loss(targets[r], null, false);
            }
        }
    }

    /** The first sequence of replica {@code r}'s share. */
    private int first(int r) {
        return Parallel.chunkStart(batch, replicas.length, r);
    }
}

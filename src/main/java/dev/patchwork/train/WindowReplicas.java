package dev.patchwork.train;

import dev.patchwork.model.WindowModel;
import dev.patchwork.tensor.CrossEntropyKernel;
import dev.patchwork.tensor.ParameterBuffer;

/**
 * A {@link ReplicaTeam} of a {@link WindowModel} (byte LM, MEGABYTE, BPE LM): batches of {@code B} windows of
 * {@code T} ids, each replica taking a contiguous run of windows. Replica 0 is the model itself.
 */
public final class WindowReplicas {
    private final ReplicaTeam team;
    private int[] x, y;
    private int T;

    /** {@code replicas} replicas of {@code model} (1: the model alone). */
    public WindowReplicas(WindowModel model, int replicas) {
        team = ReplicaTeam.of(model.layout(), replicas, r -> new Share(r == 0 ? model : model.replica()));
    }

    public int replicas() {
        return team.size();
    }

    /**
     * Forward and loss of {@code x[B·T]} against {@code y} (negative targets ignored); prepares the gradient of the
     * batch's mean loss for {@link #backward}. Returns the summed loss in nats.
     */
    public double forwardLoss(int[] x, int[] y, int B, int T) {
        set(x, y, T);
        return team.forwardLoss(B, CrossEntropyKernel.counted(y, B * T), true);
    }

    /** The summed loss without a gradient (evaluation), on the same replicas as training. */
    public double loss(int[] x, int[] y, int B, int T) {
        set(x, y, T);
        return team.forwardLoss(B, 0, false);
    }

    /** Adds the gradient prepared by the last {@link #forwardLoss} into {@code grads}. */
    public void backward(ParameterBuffer grads) {
        team.backward(grads);
    }

    private void set(int[] x, int[] y, int T) {
        this.x = x;
        this.y = y;
        this.T = T;
    }

    /** One replica: copies its windows out of the batch (replica 0's come first and are read in place). */
    private final class Share implements ReplicaTeam.Replica {
        private final WindowModel model;
        private int[] xs = new int[0], ys = new int[0];

        Share(WindowModel model) {
            this.model = model;
        }

        @Override
        public double forwardLoss(int from, int to, long meanOver, boolean withGradient) {
            int[] xr = x, yr = y;
            if (from > 0) {
                int n = (to - from) * T;
                if (xs.length != n) {
                    xs = new int[n];
                    ys = new int[n];
                }
                System.arraycopy(x, from * T, xs, 0, n);
                System.arraycopy(y, from * T, ys, 0, n);
                xr = xs;
                yr = ys;
            }
            model.forward(xr, to - from, T);
            return withGradient ? model.loss(yr, meanOver) : model.loss(yr, null, false);
        }

        @Override
        public void backward(ParameterBuffer grads) {
            model.backward(grads);
        }
    }
}

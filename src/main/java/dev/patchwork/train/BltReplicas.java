package dev.patchwork.train;

import dev.patchwork.data.BltBatch;
import dev.patchwork.model.Blt;
import dev.patchwork.tensor.ParameterBuffer;

import java.util.Arrays;

/**
 * A {@link ReplicaTeam} of a {@link Blt}: each replica takes a contiguous run of a {@link BltBatch}'s rows (all padded
 * to the batch's length, with their own patch lengths). Replica 0 is the model itself.
 */
public final class BltReplicas {
    private final ReplicaTeam team;
    private BltBatch batch;

    /** {@code replicas} replicas of {@code model} (1: the model alone). */
    public BltReplicas(Blt model, int replicas) {
        team = ReplicaTeam.of(model.layout(), replicas, r -> new Share(r == 0 ? model : model.replica()));
    }

    public int replicas() {
        return team.size();
    }

    /** Forward and loss of a batch; prepares the gradient of its mean loss for {@link #backward}. Returns the summed loss. */
    public double forwardLoss(BltBatch b) {
        batch = b;
        return team.forwardLoss(b.rows(), b.targets(), true);
    }

    /** The summed loss of a batch without a gradient (evaluation), on the same replicas as training. */
    public double loss(BltBatch b) {
        batch = b;
        return team.forwardLoss(b.rows(), 0, false);
    }

    /** Adds the gradient prepared by the last {@link #forwardLoss} into {@code grads}. */
    public void backward(ParameterBuffer grads) {
        team.backward(grads);
    }

    /** One replica: copies its rows out of the batch (replica 0's come first and are read in place). */
    private final class Share implements ReplicaTeam.Replica {
        private final Blt model;
        private int[] xs = new int[0], ys = new int[0];

        Share(Blt model) {
            this.model = model;
        }

        @Override
        public double forwardLoss(int from, int to, long meanOver, boolean withGradient) {
            BltBatch b = batch;
            int N = b.bytes(), n = (to - from) * N;
            int[] x = b.x(), y = b.y();
            int[][] lengths = b.lengths();
            if (from > 0 || to < b.rows()) {
                if (from > 0) {
                    if (xs.length != n) {
                        xs = new int[n];
                        ys = new int[n];
                    }
                    System.arraycopy(b.x(), from * N, xs, 0, n);
                    System.arraycopy(b.y(), from * N, ys, 0, n);
                    x = xs;
                    y = ys;
                }
                lengths = Arrays.copyOfRange(lengths, from, to);
            }
            model.forward(x, to - from, N, lengths);
            return withGradient ? model.loss(y, meanOver) : model.loss(y, null, false);
        }

        @Override
        public void backward(ParameterBuffer grads) {
            model.backward(grads);
        }
    }
}

package dev.patchwork.model;

import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.tensor.ParameterLayout;

/**
 * A model that scores a batch of {@code B} rows of {@code T} ids at once ({@link ByteLm}, {@link Megabyte}): what the
 * window-batched trainers and evaluators need, so that they share one loop whatever the architecture.
 */
public interface WindowModel {
    ParameterLayout layout();

    ParameterBuffer parameters();

    /** Forward pass over {@code ids[B·T]}; keeps the activations for {@link #backward}. Returns the logits. */
    float[] forward(int[] ids, int B, int T);

    /**
     * Cross-entropy of the last forward's logits against {@code targets} (negative targets are ignored), summed in
     * nats; when {@code withGradient}, also prepares the gradient of the mean loss for {@link #backward}.
     */
    double loss(int[] targets, float[] losses, boolean withGradient);

    /**
     * The summed loss as {@link #loss}, preparing the gradient of that sum divided by {@code meanOver} rather than by
     * this call's own count of targets: a replica training on a share of a batch gets its part of the batch's mean.
     */
    double loss(int[] targets, long meanOver);

    /**
     * A model over the same parameters with activations of its own, to run a share of a training batch on another
     * thread ({@code dev.patchwork.train.ReplicaTeam}).
     */
    WindowModel replica();

    /** Adds the gradient prepared by the last {@link #loss} with a gradient into {@code grads}. */
    void backward(ParameterBuffer grads);
}

package dev.patchwork.train;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.patchwork.io.Checkpoint;
import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.tensor.ParameterLayout;

import java.io.PrintStream;

/**
 * A model and its data as the {@link Trainer} sees them: one kind per model (byte LM, BLT, ...), each with its own
 * batch source. The trainer owns everything else (optimiser, schedule, clipping, logging, evaluation schedule,
 * checkpoints, resume, Ctrl-C).
 *
 * <p>Batches must be a pure function of the step (and the run's seed), so that a resumed run sees the batches of an
 * unbroken one.
 */
public interface TrainingTask {
    /** Summed loss over a number of predicted bytes. */
    record Loss(double nats, long targets) {
        public double mean() {
            return nats / targets;
        }
    }

    /** The model kind, written to trainer.json ({@code byte_lm}, {@code blt}). */
    String kind();

    /** A short name for plot titles ("byte LM", "BLT"). */
    String title();

    /** Prints what is trained on what (model size and shape, batch shape, corpus) at the start of a run. */
    void describe(PrintStream log);

    ParameterLayout layout();

    ParameterBuffer parameters();

    /** Runs the forward pass on the training batch of {@code step} and prepares the gradient of its mean loss. */
    Loss forwardTraining(long step);

    /** Adds the gradient prepared by the last {@link #forwardTraining} into {@code grads}. */
    void backward(ParameterBuffer grads);

    /** The loss over the held-out batches (no gradient). */
    Loss evaluate();

    /** The model's part of a checkpoint: config, weights and any nested model; the trainer adds its own state. */
    Checkpoint.Builder checkpoint();

    /** Adds the task's own fields to trainer.json (the data source, the patcher, ...). */
    void saveState(ObjectNode state);
}

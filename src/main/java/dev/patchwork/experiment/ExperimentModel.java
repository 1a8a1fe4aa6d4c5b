package dev.patchwork.experiment;

import dev.patchwork.data.ByteCorpus;
import dev.patchwork.data.CorpusSource;
import dev.patchwork.io.Checkpoint;
import dev.patchwork.train.StopSignal;
import dev.patchwork.train.TrainSettings;
import dev.patchwork.train.Trainer;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What an experiment needs from one model kind: its FLOP cost per training byte and bytes per step (to turn the
 * FLOP budget into steps), its training (started or resumed in a run directory with the kind's own trainer), and its
 * evaluation on held-out bytes. One implementation per kind, registered in {@link ExperimentKinds}.
 */
public interface ExperimentModel {
    /** Where and how to train: the shared corpus, the run directory and the settings with their step count. */
    record Training(ByteCorpus corpus, String dataSource, Path runDir, TrainSettings settings, PrintStream log, StopSignal stop) {
        /** Whether the run directory holds a checkpointed run to resume (else a new one is started there). */
        public boolean resumable() {
            return Files.isRegularFile(Trainer.checkpointDir(runDir).resolve(Checkpoint.TRAINER_FILE));
        }
    }

    /**
     * A held-out evaluation.
     *
     * @param meanPatchSize       bytes per patch measured on the evaluated text (null for unpatched models)
     * @param patchLengthCounts   how many patches have each length (index = length; null for unpatched models or
     *                            when not asked)
     */
    record Evaluation(double bitsPerByte, long bytes, double inferenceFlopsPerByte, Double meanPatchSize, long[] patchLengthCounts) {}

    /** A one-line description: kind, parameters, shape. */
    String describe();

    long parameters();

    /** Training FLOPs per byte by the BLT paper's accounting ({@code 3 ×} the forward FLOPs per byte). */
    double trainFlopsPerByte();

    /** Bytes one training step reads (for patched models: at the planned mean patch size). */
    double bytesPerStep();

    /** The mean patch size the step count is planned with, or null for an unpatched model. */
    default Double plannedPatchSize() {
        return null;
    }

    /**
     * Measures on the corpus what the step count depends on, before training (the BPE baseline learns its tokenizer
     * and its bytes per token here); the experiment then recomputes the steps from {@link #bytesPerStep} and
     * {@link #trainFlopsPerByte}. Must give the same result when run again on the same run directory (resume).
     */
    default void prepare(ByteCorpus corpus, Path runDir, PrintStream log) throws IOException {}

    /** Trains to {@code training.settings().steps()}: starts a new run, or resumes the one in the run directory. */
    Trainer.Result train(Training training) throws IOException;

    /** Bits per byte of the trained model in {@code runDir} over {@code heldOut}. */
    Evaluation evaluate(Path runDir, CorpusSource heldOut, boolean patchHistogram);
}

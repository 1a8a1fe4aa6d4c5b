package dev.patchwork.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.patchwork.data.ByteCorpus;
import dev.patchwork.model.WindowModel;
import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.tensor.ParameterLayout;
import dev.patchwork.util.PatchworkException;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;

/**
 * What the tasks that train a {@link WindowModel} on batches of {@code seq_len}-id windows share
 * ({@link ByteLmTrainer}, {@link MegabyteTrainer}, {@link TokenLmTrainer}): the model and its training batch, the run's
 * settings and corpus, the {@link Trainer} (fresh, or restored from a run's state) and the delegation to the model.
 *
 * @param <M> the model, so that each trainer's {@link #model()} returns its own type
 */
abstract class WindowTask<M extends WindowModel> implements TrainingTask {
    protected final M model;
    protected final TrainSettings settings;
    protected final ByteCorpus corpus;
    protected final String dataSource;
    protected final int seqLen;
    /** The training batch: {@code batch_size} windows of inputs and their targets, reused every step. */
    protected final int[] x, y;
    /** Runs each training step's forward and backward on replicas of the model, one per thread. */
    protected final WindowReplicas replicas;
    private final Trainer trainer;

    /**
     * @param resumeState the run's trainer.json when resuming (optimiser moments and step are restored), else null
     */
    WindowTask(M model, int maxSeqlen, TrainSettings settings, ByteCorpus corpus, String dataSource, Path out,
               PrintStream log, StopSignal stop, JsonNode resumeState) {
        this.model = model;
        this.settings = settings;
        this.corpus = corpus;
        this.dataSource = dataSource;
        this.seqLen = settings.seqLenOr(maxSeqlen);
        this.x = new int[settings.batchSize() * seqLen];
        this.y = new int[settings.batchSize() * seqLen];
        this.replicas = new WindowReplicas(model, ReplicaTeam.replicasFor(settings.batchSize()));
        // the Trainer and the optimiser read only the layout here, which the model already has
        AdamW optimizer = resumeState == null ? Trainer.optimizer(this, settings)
                : Trainer.restoreOptimizer(this, settings, resumeState, out);
        long startStep = resumeState == null ? 0 : resumeState.path("step").asLong();
        this.trainer = new Trainer(this, settings, out, log, stop, optimizer, startStep);
    }

    /** Refuses a window longer than the model's context. */
    static void requireWithinContext(int seqLen, int maxSeqlen) {
        if (seqLen > maxSeqlen) throw new PatchworkException("seq_len " + seqLen + " exceeds the model's max_seqlen " + maxSeqlen);
    }

    /** The error for a training stream shorter than one window. */
    final PatchworkException tooFewTrainingTokens(long trainTokens) {
        return new PatchworkException("corpus " + corpus.description() + " has only " + trainTokens
                + " training tokens, fewer than one window of seq_len+1 = " + (seqLen + 1) + ": use more data or a smaller seq_len");
    }

    public M model() {
        return model;
    }

    public int seqLen() {
        return seqLen;
    }

    /** Refuses data too short for the run's windows (a clear message before any step is taken). */
    abstract void checkData();

    /** Runs from the current step to {@code settings.steps()}. */
    public Trainer.Result run() throws IOException {
        checkData();
        return trainer.run();
    }

    @Override
    public ParameterLayout layout() {
        return model.layout();
    }

    @Override
    public ParameterBuffer parameters() {
        return model.parameters();
    }

    @Override
    public void backward(ParameterBuffer grads) {
        replicas.backward(grads);
    }

    @Override
    public void saveState(ObjectNode state) {
        state.put("data", dataSource);
    }
}

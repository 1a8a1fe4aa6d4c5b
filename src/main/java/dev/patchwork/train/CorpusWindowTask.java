package dev.patchwork.train;

import com.fasterxml.jackson.databind.JsonNode;
import dev.patchwork.data.Batcher;
import dev.patchwork.data.ByteCorpus;
import dev.patchwork.data.CorpusSplit;
import dev.patchwork.data.EvalWindows;
import dev.patchwork.model.WindowModel;
import dev.patchwork.util.PatchworkException;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * A {@link WindowTask} over the corpus's own ids ({@link ByteLmTrainer}, {@link MegabyteTrainer}): training batches
 * are random windows of {@code seq_len} ids drawn from (seed, step) by a {@link Batcher}; the held-out loss is taken
 * over consecutive {@link EvalWindows}.
 *
 * <p>A next-token model is scored against the windows' next-id targets; a model that predicts every id of its input
 * from the ids before it (MEGABYTE) is scored against the inputs themselves ({@code targetsAreInputs}).
 */
abstract class CorpusWindowTask<M extends WindowModel> extends WindowTask<M> {
    protected final CorpusSplit split;
    private final Batcher batcher;
    private final boolean targetsAreInputs;

    CorpusWindowTask(M model, int maxSeqlen, boolean targetsAreInputs, TrainSettings settings, ByteCorpus corpus,
                     String dataSource, Path out, PrintStream log, StopSignal stop, JsonNode resumeState) {
        super(model, maxSeqlen, settings, corpus, dataSource, out, log, stop, resumeState);
        this.targetsAreInputs = targetsAreInputs;
        this.split = corpus.split(settings.evalFraction());
        this.batcher = new Batcher(corpus, split, settings.seed());
    }

    @Override
    void checkData() {
        if (split.trainTokens() < seqLen + 1) throw tooFewTrainingTokens(split.trainTokens());
    }

    @Override
    public Loss forwardTraining(long step) {
        int B = settings.batchSize();
        batcher.batch(step, B, seqLen, x, y);
        return new Loss(replicas.forwardLoss(x, targetsAreInputs ? x : y, B, seqLen), (long) B * seqLen);
    }

    /** Summed loss over the held-out windows ({@code eval_batches · batch_size} windows at most). */
    @Override
    public Loss evaluate() {
        int B = settings.batchSize(), T = seqLen;
        EvalWindows windows = new EvalWindows(corpus, split, T, (long) settings.evalBatches() * B);
        int[] ex = new int[B * T], ey = new int[B * T];
        int[] targets = targetsAreInputs ? new int[B * T] : ey;
        double sum = 0;
        long count = 0;
        int n;
        while ((n = windows.nextBatch(B, ex, ey)) > 0) {
            if (targetsAreInputs) System.arraycopy(ex, 0, targets, 0, n * T);
            Arrays.fill(ex, n * T, B * T, 0);
            Arrays.fill(targets, n * T, B * T, -1); // unused rows of the last batch: ignored targets
            sum += replicas.loss(ex, targets, B, T);
            count += (long) n * T;
        }
        if (count == 0) throw new PatchworkException("the held-out split of " + corpus.description() + " is shorter than one window of " + (T + 1) + " tokens");
        return new Loss(sum, count);
    }
}

package dev.patchwork.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.patchwork.data.Batcher;
import dev.patchwork.data.ByteCorpus;
import dev.patchwork.data.CorpusSplit;
import dev.patchwork.data.EvalWindows;
import dev.patchwork.io.Checkpoint;
import dev.patchwork.model.ByteLm;
import dev.patchwork.model.ByteLmCheckpoint;
import dev.patchwork.model.ByteLmConfig;
import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.tensor.ParameterLayout;
import dev.patchwork.util.PatchworkException;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;

/**
 * Trains a {@link ByteLm} on a corpus with the shared {@link Trainer} loop: batches are random windows of
 * {@code seq_len} tokens drawn from (seed, step) by a {@link Batcher}; held-out loss over consecutive
 * {@link EvalWindows}. Its checkpoint is {@code config.json} + {@code model.safetensors} (the reference hub layout), so
 * commands that take {@code --model RUN} find it.
 */
public final class ByteLmTrainer implements TrainingTask {
    private final ByteLmConfig config;
    private final TrainSettings settings;
    private final ByteCorpus corpus;
    private final String dataSource;
    private final CorpusSplit split;
    private final Batcher batcher;
    private final int seqLen;
    private final ByteLm model;
    private final int[] x, y;
    private final Trainer trainer;

    private ByteLmTrainer(TrainSettings settings, Path out, ByteCorpus corpus, String dataSource, PrintStream log,
                          StopSignal stop, ByteLm model, JsonNode resumeState) {
        this.config = model.config();
        this.dataSource = dataSource;
        this.settings = settings;
        this.corpus = corpus;
        this.seqLen = settings.seqLen() != null ? settings.seqLen() : config.maxSeqlen();
        this.split = corpus.split(settings.evalFraction());
        this.batcher = new Batcher(corpus, split, settings.seed());
        this.model = model;
        this.x = new int[settings.batchSize() * seqLen];
        this.y = new int[settings.batchSize() * seqLen];
        AdamW optimizer = resumeState == null ? Trainer.optimizer(this, settings)
                : Trainer.restoreOptimizer(this, settings, resumeState, out);
        long startStep = resumeState == null ? 0 : resumeState.path("step").asLong();
        this.trainer = new Trainer(this, settings, out, log, stop, optimizer, startStep);
    }

    /** Starts a new run in {@code out}, which must not hold one already. */
    public static ByteLmTrainer start(ByteLmConfig config, TrainSettings settings, ByteCorpus corpus, String dataSource,
                                      Path out, PrintStream log, StopSignal stop) throws IOException {
        Trainer.requireNoRun(out);
        int seqLen = settings.seqLen() != null ? settings.seqLen() : config.maxSeqlen();
        checkFits(config, settings.batchSize(), seqLen);
        if (seqLen > config.maxSeqlen())
            throw new PatchworkException("seq_len " + seqLen + " exceeds the model's max_seqlen " + config.maxSeqlen());
        java.nio.file.Files.createDirectories(out);
        return new ByteLmTrainer(settings, out, corpus, dataSource, log, stop, ByteLm.initialise(config), null);
    }

    /** Reads the settings a run was started with (for {@code --resume}). */
    public static TrainSettings savedSettings(Path out) {
        return Trainer.savedSettings(Trainer.readState(out), out);
    }

    /** Continues the run in {@code out} from its last checkpoint. */
    public static ByteLmTrainer resume(ByteLmCorpusOpener corpusOpener, Path out, PrintStream log, StopSignal stop) throws IOException {
        JsonNode state = Trainer.readState(out);
        TrainSettings settings = Trainer.savedSettings(state, out);
        ByteLm model = ByteLmCheckpoint.load(Trainer.checkpointDir(out));
        String dataSource = state.path("data").asText();
        return new ByteLmTrainer(settings, out, corpusOpener.open(dataSource), dataSource, log, stop, model, state);
    }

    /** Opens the corpus a run names (the CLI may substitute a --data path). */
    @FunctionalInterface
    public interface ByteLmCorpusOpener {
        ByteCorpus open(String savedDataPath) throws IOException;
    }

    /**
     * Refuses a config whose training would not fit in memory, with the estimate: parameters, gradients and two AdamW
     * moments (native memory) plus activations kept for backward (Java heap).
     */
    public static void checkFits(ByteLmConfig c, int batch, int seqLen) {
        long params = ByteLm.layoutOf(c).totalFloats();
        long rows = (long) batch * seqLen;
        long perLayer = rows * (14L * c.dim() + 6L * c.ffnHidden() + 2L * c.heads());
        long activations = 4 * (perLayer * c.nLayers() + rows * (4L * c.dim() + 2L * c.vocabSize()));
        MemoryCheck.require(16 * params, activations, "batch_size, seq_len, dim or n_layers");
    }

    public ByteLm model() {
        return model;
    }

    public int seqLen() {
        return seqLen;
    }

    /** Runs from the current step to {@code settings.steps()}. */
    public Trainer.Result run() throws IOException {
        if (split.trainTokens() < seqLen + 1)
            throw new PatchworkException("corpus " + corpus.description() + " has only " + split.trainTokens()
                    + " training tokens, fewer than one window of seq_len+1 = " + (seqLen + 1) + ": use more data or a smaller seq_len");
        return trainer.run();
    }

    // ---- TrainingTask ----------------------------------------------------------------------------------------------

    @Override
    public String kind() {
        return "byte_lm";
    }

    @Override
    public String title() {
        return "byte LM";
    }

    @Override
    public void describe(PrintStream log) {
        log.printf("model: %,d parameters (dim %d, %d layers, %d heads, ffn %d, window %s); batch %d x %d bytes; corpus %s: %,d training / %,d held-out tokens%n",
                model.layout().parameterCount(), config.dim(), config.nLayers(), config.heads(), config.ffnHidden(),
                config.slidingWindow() == null ? "none" : config.slidingWindow().toString(), settings.batchSize(), seqLen,
                corpus.description(), split.trainTokens(), split.evalTokens());
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
    public Loss forwardTraining(long step) {
        int B = settings.batchSize();
        batcher.batch(step, B, seqLen, x, y);
        model.forward(x, B, seqLen);
        return new Loss(model.loss(y, null, true), (long) B * seqLen);
    }

    @Override
    public void backward(ParameterBuffer grads) {
        model.backward(grads);
    }

    /** Summed loss over the held-out windows ({@code eval_batches · batch_size} windows at most). */
    @Override
    public Loss evaluate() {
        int B = settings.batchSize(), T = seqLen;
        EvalWindows windows = new EvalWindows(corpus, split, T, (long) settings.evalBatches() * B);
        int[] ex = new int[B * T], ey = new int[B * T];
        double sum = 0;
        long count = 0;
        int n;
        while ((n = windows.nextBatch(B, ex, ey)) > 0) {
            for (int i = n * T; i < B * T; i++) {
                ex[i] = 0;
                ey[i] = -1; // unused rows of the last batch: ignored targets
            }
            model.forward(ex, B, T);
            sum += model.loss(ey, null, false);
            count += (long) n * T;
        }
        if (count == 0) throw new PatchworkException("the held-out split of " + corpus.description() + " is shorter than one window of " + (T + 1) + " tokens");
        return new Loss(sum, count);
    }

    @Override
    public Checkpoint.Builder checkpoint() {
        return Checkpoint.builder(config.toJson(), model.parameters());
    }

    @Override
    public void saveState(ObjectNode state) {
        state.put("data", dataSource);
    }
}

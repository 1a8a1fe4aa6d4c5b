package dev.patchwork.train;

import com.fasterxml.jackson.databind.JsonNode;
import dev.patchwork.data.Batcher;
import dev.patchwork.data.ByteCorpus;
import dev.patchwork.data.EvalWindows;
import dev.patchwork.io.Checkpoint;
import dev.patchwork.model.ByteLm;
import dev.patchwork.model.ByteLmCheckpoint;
import dev.patchwork.model.ByteLmConfig;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;

/**
 * Trains a {@link ByteLm} on a corpus with the shared {@link Trainer} loop: batches are random windows of
 * {@code seq_len} tokens drawn from (seed, step) by a {@link Batcher}; held-out loss over consecutive
 * {@link EvalWindows}. Its checkpoint is {@code config.json} + {@code model.safetensors} (the reference hub layout), so
 * commands that take {@code --model RUN} find it.
 */
public final class ByteLmTrainer extends CorpusWindowTask<ByteLm> {
    private final ByteLmConfig config;

    private ByteLmTrainer(TrainSettings settings, Path out, ByteCorpus corpus, String dataSource, PrintStream log,
                          StopSignal stop, ByteLm model, JsonNode resumeState) {
        super(model, model.config().maxSeqlen(), false, settings, corpus, dataSource, out, log, stop, resumeState);
        this.config = model.config();
    }

    /** Starts a new run in {@code out}, which must not hold one already. */
    public static ByteLmTrainer start(ByteLmConfig config, TrainSettings settings, ByteCorpus corpus, String dataSource,
                                      Path out, PrintStream log, StopSignal stop) throws IOException {
        Trainer.requireNoRun(out);
        int seqLen = settings.seqLenOr(config.maxSeqlen());
        checkFits(config, settings.batchSize(), seqLen);
        requireWithinContext(seqLen, config.maxSeqlen());
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
     * moments, and each extra training replica's gradients (native memory) plus activations kept for backward (Java heap).
     */
    public static void checkFits(ByteLmConfig c, int batch, int seqLen) {
        long params = ByteLm.layoutOf(c).totalFloats();
        long rows = (long) batch * seqLen;
        long perLayer = rows * (14L * c.dim() + 6L * c.ffnHidden() + 2L * c.heads());
        long activations = 4 * (perLayer * c.nLayers() + rows * (4L * c.dim() + 2L * c.vocabSize()));
        MemoryCheck.require(ReplicaTeam.nativeBytesPerParameter(batch) * params, activations, "batch_size, seq_len, dim or n_layers");
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
    public Checkpoint.Builder checkpoint() {
        return Checkpoint.builder(config.toJson(), model.parameters());
    }
}

package dev.patchwork.train;

import com.fasterxml.jackson.databind.JsonNode;
import dev.patchwork.data.Batcher;
import dev.patchwork.data.ByteCorpus;
import dev.patchwork.data.EvalWindows;
import dev.patchwork.io.Checkpoint;
import dev.patchwork.model.Megabyte;
import dev.patchwork.model.MegabyteConfig;
import dev.patchwork.model.ModelDirectory;
import dev.patchwork.util.PatchworkException;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Trains a {@link Megabyte} with the shared {@link Trainer} loop, with the byte LM's conventions: random windows of
 * {@code seq_len} ids drawn from (seed, step) by a {@link Batcher}, held-out loss over consecutive
 * {@link EvalWindows}, checkpoint {@code config.json} ({@code {"args": ...}}) + {@code model.safetensors}.
 * MEGABYTE predicts every id of its input from the ids before it, so a window is both input and target: the
 * batcher's inputs are used and its next-token targets are not.
 */
public final class MegabyteTrainer extends CorpusWindowTask<Megabyte> {
    private final MegabyteConfig config;

    private MegabyteTrainer(TrainSettings settings, Path out, ByteCorpus corpus, String dataSource, PrintStream log,
                            StopSignal stop, Megabyte model, JsonNode resumeState) {
        super(model, model.config().maxSeqlen(), true, settings, corpus, dataSource, out, log, stop, resumeState);
        this.config = model.config();
    }

    /** Starts a new run in {@code out}, which must not hold one already. */
    public static MegabyteTrainer start(MegabyteConfig config, TrainSettings settings, ByteCorpus corpus, String dataSource,
                                        Path out, PrintStream log, StopSignal stop) throws IOException {
        Trainer.requireNoRun(out);
        checkShape(config, settings);
        Files.createDirectories(out);
        return new MegabyteTrainer(settings, out, corpus, dataSource, log, stop, Megabyte.initialise(config), null);
    }

    /** Continues the run in {@code out} from its last checkpoint. */
    public static MegabyteTrainer resume(ByteLmTrainer.ByteLmCorpusOpener corpusOpener, Path out, PrintStream log,
                                         StopSignal stop) throws IOException {
        JsonNode state = Trainer.readState(out);
        TrainSettings settings = Trainer.savedSettings(state, out);
        Megabyte model = ModelDirectory.of(Trainer.checkpointDir(out)).loadMegabyte();
        String dataSource = state.path("data").asText();
        return new MegabyteTrainer(settings, out, corpusOpener.open(dataSource), dataSource, log, stop, model, state);
    }

    /** Whether {@code out} holds a MEGABYTE run with a checkpoint (what {@link #resume} needs). */
    public static boolean isMegabyteRun(Path out) {
        Path config = Trainer.checkpointDir(out).resolve(Checkpoint.CONFIG_FILE);
        return Files.isRegularFile(config) && ModelDirectory.kindOf(out) == ModelDirectory.Kind.MEGABYTE;
    }

    /** Refuses a window the model cannot take, and a run that would not fit in memory. */
    public static void checkShape(MegabyteConfig c, TrainSettings settings) {
        int T = settings.seqLenOr(c.maxSeqlen());
        requireWithinContext(T, c.maxSeqlen());
        if (T % c.patchSize() != 0)
            throw new PatchworkException("seq_len " + T + " must be a multiple of patch_size " + c.patchSize());
        long params = Megabyte.layoutOf(c).totalFloats();
        long rows = (long) settings.batchSize() * T, patches = rows / c.patchSize();
        // per byte row: the local blocks and the byte-wide buffers; per patch row: the global blocks (as ByteLmTrainer)
        long local = rows * (14L * c.localDim() + 6L * c.localFfnHidden() + 2L * c.localHeads()) * c.localLayers();
        long global = patches * (14L * c.globalWidth() + 6L * c.globalFfnHidden() + 2L * c.globalHeads()) * c.globalLayers();
        long buffers = rows * (8L * c.globalDim() + 6L * c.localDim() + 2L * c.vocabSize());
        MemoryCheck.require(ReplicaTeam.nativeBytesPerParameter(settings.batchSize()) * params, 4 * (local + global + buffers),
                "batch_size, seq_len or the model's widths and layers");
    }

    // ---- TrainingTask ----------------------------------------------------------------------------------------------

    @Override
    public String kind() {
        return "megabyte";
    }

    @Override
    public String title() {
        return "MEGABYTE";
    }

    @Override
    public void describe(PrintStream log) {
        log.printf("model: MEGABYTE, %,d parameters (patch %d; global %d x %d = %d wide, %d layers, %d heads; local %d wide,"
                        + " %d layers, %d heads); batch %d x %d bytes; corpus %s: %,d training / %,d held-out tokens%n",
                model.layout().parameterCount(), config.patchSize(), config.patchSize(), config.globalDim(), config.globalWidth(),
                config.globalLayers(), config.globalHeads(), config.localDim(), config.localLayers(), config.localHeads(),
                settings.batchSize(), seqLen, corpus.description(), split.trainTokens(), split.evalTokens());
    }

    @Override
    public Checkpoint.Builder checkpoint() {
        return Checkpoint.builder(config.toJson(), model.parameters());
    }
}

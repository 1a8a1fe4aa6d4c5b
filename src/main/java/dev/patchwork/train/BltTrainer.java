package dev.patchwork.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.patchwork.data.BltBatch;
import dev.patchwork.data.ByteCorpus;
import dev.patchwork.data.CorpusSplit;
import dev.patchwork.data.PackedSequence;
import dev.patchwork.data.PatchWindows;
import dev.patchwork.io.AtomicFiles;
import dev.patchwork.io.Checkpoint;
import dev.patchwork.model.Blt;
import dev.patchwork.model.BltCheckpoint;
import dev.patchwork.model.BltConfig;
import dev.patchwork.model.ByteLm;
import dev.patchwork.model.ByteLmCheckpoint;
import dev.patchwork.model.ModelDirectory;
import dev.patchwork.patch.CorpusPatches;
import dev.patchwork.patch.EntropyCache;
import dev.patchwork.patch.EntropyModel;
import dev.patchwork.patch.PatcherConfig;
import dev.patchwork.patch.ThresholdCalibration;
import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.tensor.ParameterLayout;
import dev.patchwork.util.Json;
import dev.patchwork.util.PatchworkException;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Trains a {@link Blt} with the shared {@link Trainer} loop. A run goes through three phases, each resumable:
 * <ol>
 *   <li>the entropy model: an existing one, or one trained first into {@code RUN/entropy_model_run/} (an ordinary
 *       byte LM run on the same corpus and training split);</li>
 *   <li>the corpus' entropies ({@link EntropyCache}) and patches ({@link CorpusPatches}), computed once into
 *       {@code RUN/cache/} and reused while the corpus, the entropy model and the patcher are unchanged;</li>
 *   <li>the BLT itself, on sequences of {@code seq_len} patches packed the reference's way ({@link BltBatcher}).</li>
 * </ol>
 * The checkpoint is the reference's hub layout ({@link BltCheckpoint}: config.json, model.safetensors,
 * train_args.json with {@code data.patcher_args}, entropy_model/) plus the trainer's optimizer.safetensors and
 * trainer.json. Until the first checkpoint, {@code RUN/blt_run.json} holds the resolved config and the data path so
 * that {@code --resume} can pick up an interrupted first or second phase.
 */
public final class BltTrainer {
    /** Where an entropy model trained for the run goes. */
    public static final String ENTROPY_RUN = "entropy_model_run";
    /** The run's config and data path, written at the start. */
    public static final String RUN_FILE = "blt_run.json";
    /** Tokens of the training split that {@code target_patch_size} calibrates θ on. */
    public static final long CALIBRATION_TOKENS = 1_000_000;

    private final BltTrainConfig config;
    private final String dataSource;
    private final Path out;
    private final PrintStream log;
    private final StopSignal stop;
    private final ByteLmTrainer.ByteLmCorpusOpener corpusOpener;
    private final JsonNode resumeState; // null until the run has a checkpoint

    private BltTrainer(BltTrainConfig config, String dataSource, Path out, PrintStream log, StopSignal stop,
                       ByteLmTrainer.ByteLmCorpusOpener corpusOpener, JsonNode resumeState) {
        this.config = config;
        this.dataSource = dataSource;
        this.out = out;
        this.log = log;
        this.stop = stop;
        this.corpusOpener = corpusOpener;
        this.resumeState = resumeState;
    }

    /** Starts a new run in {@code out}, which must not hold one already; nothing is computed before {@link #run}. */
    public static BltTrainer start(BltTrainConfig config, String dataSource, ByteLmTrainer.ByteLmCorpusOpener corpusOpener,
                                   Path out, PrintStream log, StopSignal stop) throws IOException {
        Trainer.requireNoRun(out);
        if (Files.exists(out.resolve(RUN_FILE)))
            throw new PatchworkException(out + " already holds a BLT run that has not saved a checkpoint yet: continue it with --resume, or choose another --out");
        checkFits(config.model(), config.settings().batchSize(), config.seqLen(),
                config.targetPatchSize() != null ? config.targetPatchSize() : config.patcher().patchSize());
        Files.createDirectories(out);
        ObjectNode run = Json.MAPPER.createObjectNode();
        run.put("format", "patchwork-blt-run");
        run.put("data", dataSource);
        run.set("config", config.toJson());
        AtomicFiles.writeString(out.resolve(RUN_FILE), Json.write(run));
        return new BltTrainer(config, dataSource, out, log, stop, corpusOpener, null);
    }

    /** Whether {@code out} holds a BLT run (with or without a checkpoint). */
    public static boolean isBltRun(Path out) {
        Path config = Trainer.checkpointDir(out).resolve(Checkpoint.CONFIG_FILE);
        if (Files.isRegularFile(config)) return ModelDirectory.kindOf(out) == ModelDirectory.Kind.BLT;
        return Files.isRegularFile(out.resolve(RUN_FILE));
    }

    /** Continues the run in {@code out}: from its last checkpoint, or from the phase it was in before one. */
    public static BltTrainer resume(ByteLmTrainer.ByteLmCorpusOpener corpusOpener, Path out, PrintStream log, StopSignal stop) {
        Path runFile = out.resolve(RUN_FILE);
        if (!Files.isRegularFile(runFile))
            throw new PatchworkException("nothing to resume: " + runFile + " not found (start a run without --resume)");
        JsonNode run = Json.readTree(runFile);
        if (!run.path("config").isObject() || !run.path("data").isTextual())
            throw new PatchworkException(runFile + " is damaged (no config or data): start the run again in a new --out");
        BltTrainConfig config = BltTrainConfig.fromJson(run.get("config"), runFile.toString(), n -> n);
        JsonNode state = Files.isRegularFile(Trainer.checkpointDir(out).resolve(Checkpoint.TRAINER_FILE)) ? Trainer.readState(out) : null;
        return new BltTrainer(config, run.get("data").textValue(), out, log, stop, corpusOpener, state);
    }

    /**
     * Refuses a config whose training would not fit in memory: parameters, gradients, AdamW moments and the training
     * replicas' gradients (native memory)
     * plus activations (heap), with rows of {@code seqLen} patches of about {@code patch_size} bytes.
     */
    public static void checkFits(BltConfig c, int batch, int seqLen, double patchSize) {
        long params = Blt.layoutOf(c).totalFloats();
        long bytes = (long) batch * Math.min(c.maxEncoderSeqLength(), (long) Math.ceil(seqLen * Math.max(patchSize, 4.5)));
        long patches = (long) batch * seqLen;
        int dL = c.dimLocalEncoder(), dG = c.dimGlobal(), k = c.crossAttnK();
        long perLocalLayer = 14L * dL + 6L * c.ffnHidden(dL) + 2L * c.nHeadsLocalEncoder();
        long perByte = perLocalLayer * (c.nLayersLocalEncoder() + c.nLayersLocalDecoder()) + 10L * dL * c.nLayersLocalDecoder()
                + 8L * dL + 2L * c.vocabSize() + c.hashTables();
        long perPatch = (14L * dG + 6L * c.ffnHidden(dG) + 2L * c.nHeadsGlobal()) * c.nLayersGlobal() + 8L * k * dL + 4L * dG;
        MemoryCheck.require(ReplicaTeam.nativeBytesPerParameter(batch) * params, 4 * (bytes * perByte + patches * perPatch),
                "batch_size, seq_len, the widths, the layers or encoder_hash_byte_group_vocab");
    }

    /** Runs the phases left; an interruption in any of them saves what can be saved and returns. */
    public Trainer.Result run() throws IOException {
        ByteCorpus corpus = corpusOpener.open(dataSource);
        ByteLm entropyLm = entropyModel(corpus);
        if (entropyLm == null && config.patcher().build().usesEntropies()) return stopped("training the entropy model");
        CorpusSplit split = corpus.split(config.settings().evalFraction());
        EntropyCache entropies;
        CorpusPatches patches;
        PatcherConfig patcher;
        try {
            entropies = entropyLm == null ? null : entropies(corpus, entropyLm);
            patcher = resumeState != null
                    ? PatcherConfig.fromJson(resumeState.get("patcher"), Trainer.checkpointDir(out).resolve(Checkpoint.TRAINER_FILE) + " (patcher)")
                    : config.targetPatchSize() != null ? calibrate(corpus, split, entropies) : config.patcher();
            patches = CorpusPatches.open(corpus, patcher.build(), entropies, CorpusPatches.fileFor(corpus, out.resolve("cache")),
                    CorpusPatches.Progress.NONE, stop::requested);
        } catch (PatchworkException e) {
            if (!stop.requested()) throw e;
            return stopped("computing the entropies and patches");
        }
        BltBatcher batcher = new BltBatcher(corpus, patches, split, config.settings().seed(), config.seqLen(),
                config.model().maxEncoderSeqLength());
        log.printf("patches: %s: %,d patches over %,d tokens, mean patch size %.3f%s%n", patcher.build().describe(),
                patches.count(), corpus.tokens(), patches.meanPatchSize(), patches.rebuilt() ? "" : " (reused " + patches.file().getFileName() + ")");
        BltConfig modelConfig = BltTrainConfig.withPatching(config.model(), patcher);
        Blt model = resumeState == null ? Blt.initialise(modelConfig) : BltCheckpoint.load(Trainer.checkpointDir(out));
        if (!model.config().equals(modelConfig))
            throw new PatchworkException(Trainer.checkpointDir(out).resolve(Checkpoint.CONFIG_FILE) + " differs from the run's config in "
                    + out.resolve(RUN_FILE) + ": was either edited?");
        Task task = new Task(model, entropyLm, patcher, batcher, corpus, split, patches);
        AdamW optimizer = resumeState == null ? Trainer.optimizer(task, config.settings())
                : Trainer.restoreOptimizer(task, config.settings(), resumeState, out);
        long startStep = resumeState == null ? 0 : resumeState.path("step").asLong();
        return new Trainer(task, config.settings(), out, log, stop, optimizer, startStep).run();
    }

    /**
     * The threshold that gives {@code target_patch_size} on the training split (its first
     * {@link #CALIBRATION_TOKENS} tokens), as {@code patchwork patch calibrate} finds it.
     */
    private PatcherConfig calibrate(ByteCorpus corpus, CorpusSplit split, EntropyCache entropies) {
        List<float[]> documents = new ArrayList<>();
        long budget = Math.min(CALIBRATION_TOKENS, split.trainTokens());
        for (long d = 0; d < corpus.documents() && budget > 0; d++) {
            long from = corpus.documentStart(d), to = Math.min(corpus.documentStart(d + 1), split.trainEnd());
            int n = (int) Math.min(to - from, budget);
            if (n <= 0) break;
            documents.add(entropies.entropies(from, n));
            budget -= n;
        }
        ThresholdCalibration.Result r = new ThresholdCalibration(documents, config.patcher()).calibrate(config.targetPatchSize());
        log.printf("patcher: threshold %s gives mean patch size %.4f (target %.4f) over %,d tokens of the training split%s%n",
                r.threshold(), r.meanPatchSize(), r.targetSize(), r.positions(), r.note().isEmpty() ? "" : "; " + r.note());
        return config.patcher().withThreshold((double) r.threshold());
    }

    private Trainer.Result stopped(String phase) {
        log.printf("stopped while %s; continue with: patchwork train --resume --out %s%n", phase, out);
        return new Trainer.Result(0, Double.NaN, Double.NaN, true, 0);
    }

    /** Phase 1: the entropy model (null when interrupted while training it, or when the patching reads none). */
    private ByteLm entropyModel(ByteCorpus corpus) throws IOException {
        if (resumeState != null) {
            return BltCheckpoint.entropyModel(Trainer.checkpointDir(out)).map(ByteLmCheckpoint::load).orElse(null);
        }
        if (config.entropyCheckpoint() != null) return loadEntropyModel(config.entropyCheckpoint());
        if (!config.trainsEntropyModel()) return null;
        Path run = out.resolve(ENTROPY_RUN);
        Trainer.Result r;
        if (Files.isRegularFile(Trainer.checkpointDir(run).resolve(Checkpoint.TRAINER_FILE))) {
            JsonNode state = Trainer.readState(run);
            if (state.path("step").asLong() >= Trainer.savedSettings(state, run).steps()) {
                log.printf("entropy model: using the finished run in %s%n", run);
                return ByteLmCheckpoint.load(run);
            }
            log.printf("entropy model: resuming its training in %s%n", run);
            r = ByteLmTrainer.resume(saved -> corpus, run, log, stop).run();
        } else {
            log.printf("entropy model: training it first, in %s%n", run);
            r = ByteLmTrainer.start(config.entropyModel(), config.entropySettings(), corpus, dataSource, run, log, stop).run();
        }
        return r.interrupted() ? null : ByteLmCheckpoint.load(run);
    }

    /** An existing byte LM: a run, a model directory, or a BLT directory whose entropy_model/ holds it. */
    static ByteLm loadEntropyModel(Path dir) {
        if (!Files.isDirectory(dir)) throw new PatchworkException("entropy_model.checkpoint " + dir + " is not a directory");
        Path lm = Files.isRegularFile(dir.resolve(BltCheckpoint.ENTROPY_MODEL_DIR).resolve(Checkpoint.CONFIG_FILE))
                ? dir.resolve(BltCheckpoint.ENTROPY_MODEL_DIR) : dir;
        if (ModelDirectory.kindOf(lm) != ModelDirectory.Kind.BYTE_LM)
            throw new PatchworkException("entropy_model.checkpoint " + dir + " holds a BLT, not a byte LM (and has no entropy_model/)");
        return ByteLmCheckpoint.load(lm);
    }

    /** Phase 2: the corpus' entropies, computed once into the run's cache. */
    private EntropyCache entropies(ByteCorpus corpus, ByteLm entropyLm) {
        long[] last = {System.nanoTime()};
        EntropyCache entropies = EntropyCache.open(corpus, new EntropyModel(entropyLm), EntropyCache.fileFor(corpus, out.resolve("cache")), s -> {
            if (System.nanoTime() - last[0] > 5_000_000_000L || s.finished()) {
                last[0] = System.nanoTime();
                log.printf("entropies: %,d of %,d tokens (%,.0f tokens/s)%n", s.tokens(), s.totalTokens(), s.tokensPerSecond());
            }
        }, stop::requested);
        log.printf("entropies: %s%n", entropies.rebuilt() ? "computed (" + entropies.rebuildReason() + ")" : "reused " + entropies.file());
        return entropies;
    }

    /** The reference's {@code TrainArgs} fields its tools read: patcher, tokenizer, models, sequence shape, optimiser. */
    static String trainArgs(BltConfig model, ByteLm entropyLm, PatcherConfig patcher, TrainSettings s, int seqLen, String name) {
        ObjectNode root = Json.MAPPER.createObjectNode();
        root.put("name", name);
        root.put("seed", s.seed());
        root.put("steps", s.steps());
        ObjectNode data = root.putObject("data");
        data.put("seq_len", seqLen);
        data.put("batch_size", s.batchSize());
        data.put("seed", s.seed());
        data.put("add_bos", true);
        data.put("add_eos", true);
        data.put("max_encoder_seq_length", model.maxEncoderSeqLength());
        data.putObject("tokenizer_args").put("name", "blt");
        data.set("patcher_args", BltTrainConfig.patcherArgs(patcher));
        ObjectNode optim = root.putObject("optim");
        optim.put("lr", s.lr());
        optim.put("weight_decay", s.weightDecay());
        optim.put("epsilon", s.epsilon());
        optim.put("beta1", s.beta1());
        optim.put("beta2", s.beta2());
        optim.put("clip", s.clip());
        optim.put("scheduler", s.scheduler());
        optim.put("warmup", s.warmup());
        optim.put("lr_min_ratio", s.lrMinRatio());
        root.set("model", BltTrainConfig.tree(model.toJson()).get("args"));
        root.set("entropy_model", entropyLm == null ? null : BltTrainConfig.tree(entropyLm.config().toJson()).get("args"));
        root.putObject("distributed").put("model_dtype", "fp32");
        return Json.write(root);
    }

    /** Phase 3: the BLT as a {@link TrainingTask}. */
    private final class Task implements TrainingTask {
        private final Blt model;
        private final ByteLm entropyLm;
        private final PatcherConfig patcher;
        private final BltBatcher batcher;
        private final ByteCorpus corpus;
        private final CorpusSplit split;
        private final CorpusPatches patches;
        private final BltReplicas replicas;

        Task(Blt model, ByteLm entropyLm, PatcherConfig patcher, BltBatcher batcher, ByteCorpus corpus, CorpusSplit split,
             CorpusPatches patches) {
            this.model = model;
            this.entropyLm = entropyLm;
            this.patcher = patcher;
            this.batcher = batcher;
            this.corpus = corpus;
            this.split = split;
            this.patches = patches;
            this.replicas = new BltReplicas(model, ReplicaTeam.replicasFor(config.settings().batchSize()));
        }

        @Override
        public String kind() {
            return "blt";
        }

        @Override
        public String title() {
            return "BLT";
        }

        @Override
        public void describe(PrintStream log) {
            BltConfig c = model.config();
            long hash = 0;
            for (ParameterLayout.View v : model.layout().views())
                if (v.name().startsWith("encoder_hash_tok_embedding.")) hash += v.size();
            log.printf("model: BLT, %,d parameters (%,d in hash tables): global %d x %d, encoder %d x %d, decoder %d x %d, k %d, local window %s%n",
                    model.layout().parameterCount(), hash, c.nLayersGlobal(), c.dimGlobal(), c.nLayersLocalEncoder(),
                    c.dimLocalEncoder(), c.nLayersLocalDecoder(), c.dimLocalDecoder(), c.crossAttnK(),
                    c.localWindow() == 0 ? "none" : Integer.toString(c.localWindow()));
            log.printf("batch %d x %d patches (about %,.0f bytes per row); corpus %s: %,d training / %,d held-out patches, %,d / %,d tokens%n",
                    config.settings().batchSize(), config.seqLen(), config.seqLen() * patches.meanPatchSize(), corpus.description(),
                    batcher.trainPatches(), batcher.heldOutPatches(), split.trainTokens(), split.evalTokens());
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
            BltBatch b = batcher.batch(step, config.settings().batchSize());
            return new Loss(replicas.forwardLoss(b), b.targets());
        }

        @Override
        public void backward(ParameterBuffer grads) {
            replicas.backward(grads);
        }

        /** Summed loss over the first {@code eval_batches · batch_size} held-out windows. */
        @Override
        public Loss evaluate() {
            int B = config.settings().batchSize();
            long budget = (long) config.settings().evalBatches() * B;
            PatchWindows windows = batcher.heldOut();
            double nats = 0;
            long targets = 0;
            List<PackedSequence> rows = new ArrayList<>(B);
            while (budget > 0 && windows.hasNext()) {
                rows.add(batcher.window(windows.next()));
                budget--;
                if (rows.size() == B || budget == 0 || !windows.hasNext()) {
                    BltBatch b = BltBatch.of(rows);
                    nats += replicas.loss(b);
                    targets += b.targets();
                    rows.clear();
                }
            }
            return new Loss(nats, targets);
        }

        @Override
        public Checkpoint.Builder checkpoint() {
            Checkpoint.Builder b = Checkpoint.builder(model.config().toJson(), model.parameters())
                    .jsonFile(BltCheckpoint.TRAIN_ARGS_FILE, trainArgs(model.config(), entropyLm, patcher,
                            config.settings(), config.seqLen(), out.getFileName().toString()));
            if (entropyLm != null)
                b.subdirectory(BltCheckpoint.ENTROPY_MODEL_DIR, Checkpoint.builder(entropyLm.config().toJson(), entropyLm.parameters()));
            return b;
        }

        @Override
        public void saveState(ObjectNode state) {
            state.put("data", dataSource);
            state.set("patcher", BltTrainConfig.patcherArgs(patcher));
        }
    }
}

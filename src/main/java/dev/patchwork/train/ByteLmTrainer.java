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
import dev.patchwork.tensor.Simd;
import dev.patchwork.util.Json;
import dev.patchwork.util.PatchworkException;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Trains a {@link ByteLm} on a corpus: AdamW with warmup + cosine schedule and gradient clipping, progress on stderr,
 * metrics as JSON lines, periodic held-out evaluation, checkpoints that a later {@code --resume} continues
 * bit-identically (batches are a pure function of (seed, step), kernels are deterministic for a thread count), and a
 * clean stop on Ctrl-C.
 *
 * <p>Run directory: {@code checkpoint/} (the latest checkpoint, replaced atomically as a whole: {@code config.json},
 * {@code model.safetensors}, {@code optimizer.safetensors}, {@code trainer.json}), {@code metrics.jsonl},
 * {@code loss.png} and {@code cache/} (the prepared corpus). Commands that take {@code --model RUN} find the checkpoint.
 */
public final class ByteLmTrainer {
    private static final double LN2 = Math.log(2);

    /** How a run ended. */
    public record Result(long steps, double trainLoss, double evalLoss, boolean interrupted, double bytesPerSecond) {}

    private final ByteLmConfig config;
    private final TrainSettings settings;
    private final Path out;
    private final ByteCorpus corpus;
    private final String dataSource;
    private final CorpusSplit split;
    private final PrintStream log;
    private final StopSignal stop;
    private final int seqLen;
    private final ByteLm model;
    private final ParameterBuffer grads;
    private final AdamW optimizer;
    private final long startStep;
    private final TrainingMetrics metrics;

    private ByteLmTrainer(ByteLmConfig config, TrainSettings settings, Path out, ByteCorpus corpus, String dataSource,
                          PrintStream log, StopSignal stop, ByteLm model, AdamW optimizer, long startStep) {
        this.config = config;
        this.dataSource = dataSource;
        this.settings = settings;
        this.out = out;
        this.corpus = corpus;
        this.log = log;
        this.stop = stop;
        this.seqLen = settings.seqLen() != null ? settings.seqLen() : config.maxSeqlen();
        this.split = corpus.split(settings.evalFraction());
        this.model = model;
        this.grads = ParameterBuffer.allocate(model.layout());
        this.optimizer = optimizer;
        this.startStep = startStep;
        this.metrics = new TrainingMetrics(out.resolve("metrics.jsonl"), startStep);
    }

    /** Starts a new run in {@code out}, which must not hold one already. */
    public static ByteLmTrainer start(ByteLmConfig config, TrainSettings settings, ByteCorpus corpus, String dataSource,
                                      Path out, PrintStream log, StopSignal stop) throws IOException {
        if (Files.exists(checkpointDir(out)))
            throw new PatchworkException(out + " already holds a training run: continue it with --resume, or choose another --out");
        int seqLen = settings.seqLen() != null ? settings.seqLen() : config.maxSeqlen();
        checkFits(config, settings.batchSize(), seqLen);
        if (seqLen > config.maxSeqlen())
            throw new PatchworkException("seq_len " + seqLen + " exceeds the model's max_seqlen " + config.maxSeqlen());
        Files.createDirectories(out);
        ByteLm model = ByteLm.initialise(config);
        AdamW opt = new AdamW(model.layout(), settings.beta1(), settings.beta2(), settings.epsilon(), settings.weightDecay());
        return new ByteLmTrainer(config, settings, out, corpus, dataSource, log, stop, model, opt, 0);
    }

    /** Reads the settings a run was started with (for {@code --resume}). */
    public static TrainSettings savedSettings(Path out) {
        JsonNode state = readState(out);
        return Json.bind(state.get("settings"), TrainSettings.class, checkpointDir(out).resolve(Checkpoint.TRAINER_FILE).toString());
    }

    /** Continues the run in {@code out} from its last checkpoint. */
    public static ByteLmTrainer resume(ByteLmCorpusOpener corpusOpener, Path out, PrintStream log, StopSignal stop) throws IOException {
        JsonNode state = readState(out);
        TrainSettings settings = Json.bind(state.get("settings"), TrainSettings.class, checkpointDir(out).resolve(Checkpoint.TRAINER_FILE).toString());
        long step = state.path("step").asLong(-1);
        if (step < 0) throw new PatchworkException(checkpointDir(out).resolve(Checkpoint.TRAINER_FILE) + " has no valid 'step'");
        ByteLm model = ByteLmCheckpoint.load(checkpointDir(out));
        AdamW opt = new AdamW(model.layout(), settings.beta1(), settings.beta2(), settings.epsilon(), settings.weightDecay());
        Checkpoint.loadOptimizer(checkpointDir(out), opt.firstMoment(), opt.secondMoment());
        opt.restoreSteps(state.path("optimizer_steps").asLong(step));
        String dataSource = state.path("data").asText();
        ByteCorpus corpus = corpusOpener.open(dataSource);
        return new ByteLmTrainer(model.config(), settings, out, corpus, dataSource, log, stop, model, opt, step);
    }

    /** Opens the corpus a run names (the CLI may substitute a --data path). */
    @FunctionalInterface
    public interface ByteLmCorpusOpener {
        ByteCorpus open(String savedDataPath) throws IOException;
    }

    private static Path checkpointDir(Path out) {
        return out.resolve(ByteLmCheckpoint.RUN_CHECKPOINT);
    }

    private static JsonNode readState(Path out) {
        Path f = checkpointDir(out).resolve(Checkpoint.TRAINER_FILE);
        if (!Files.isRegularFile(f))
            throw new PatchworkException("nothing to resume: " + f + " not found (start a run without --resume)");
        JsonNode state = Json.readTree(f);
        if (!state.has("settings")) throw new PatchworkException(f + " has no 'settings': not a Patchwork trainer state");
        return state;
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
        long nativeBytes = 16 * params;
        long heap = Runtime.getRuntime().maxMemory();
        long physical = physicalMemory();
        if (activations > heap * 0.9 || nativeBytes + activations > physical * 0.9) {
            throw new PatchworkException(String.format(
                    "this config needs about %.1f GiB (%.1f GiB of parameters, gradients and AdamW moments + %.1f GiB of activations) "
                            + "but %.1f GiB of heap / %.1f GiB of memory are available: reduce batch_size, seq_len, dim or n_layers",
                    (nativeBytes + activations) / 1073741824.0, nativeBytes / 1073741824.0, activations / 1073741824.0,
                    heap / 1073741824.0, physical / 1073741824.0));
        }
    }

    private static long physicalMemory() {
        if (java.lang.management.ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os)
            return os.getTotalMemorySize();
        return Long.MAX_VALUE;
    }

    public ByteLm model() {
        return model;
    }

    public int seqLen() {
        return seqLen;
    }

    /** Runs from the current step to {@code settings.steps()}. */
    public Result run() throws IOException {
        int B = settings.batchSize(), T = seqLen;
        if (split.trainTokens() < T + 1)
            throw new PatchworkException("corpus " + corpus.description() + " has only " + split.trainTokens()
                    + " training tokens, fewer than one window of seq_len+1 = " + (T + 1) + ": use more data or a smaller seq_len");
        Batcher batcher = new Batcher(corpus, split, settings.seed());
        LrSchedule schedule = settings.schedule();
        int[] x = new int[B * T], y = new int[B * T];
        long steps = settings.steps();
        log.printf("patchwork train: %s%n", Simd.describe());
        log.printf("model: %,d parameters (dim %d, %d layers, %d heads, ffn %d, window %s); batch %d x %d bytes; corpus %s: %,d training / %,d held-out tokens%n",
                model.layout().parameterCount(), config.dim(), config.nLayers(), config.heads(), config.ffnHidden(),
                config.slidingWindow() == null ? "none" : config.slidingWindow().toString(), B, T, corpus.description(),
                split.trainTokens(), split.evalTokens());
        if (startStep > 0) log.printf("resuming at step %d of %d%n", startStep, steps);
        double lastLoss = Double.NaN, lastEval = Double.NaN;
        long windowStart = System.nanoTime(), runStart = windowStart;
        long windowTokens = 0, runTokens = 0;
        boolean interrupted = false;
        long step = startStep;
        while (step < steps) {
            batcher.batch(step, B, T, x, y);
            grads.zero();
            model.forward(x, B, T);
            double loss = model.loss(y, null, true) / (B * T);
            if (!Double.isFinite(loss))
                throw new PatchworkException("loss became " + loss + " at step " + step + ": lower the learning rate (lr) or raise warmup");
            model.backward(grads);
            double norm = GradientClipping.clip(grads, settings.clip());
            double lr = settings.lr() * schedule.factor(step);
            optimizer.step(model.parameters(), grads, lr);
            step++;
            lastLoss = loss;
            windowTokens += (long) B * T;
            runTokens += (long) B * T;
            if (step % settings.logEvery() == 0 || step == steps) {
                long now = System.nanoTime();
                double rate = windowTokens / ((now - windowStart) / 1e9);
                double eta = (steps - step) / (runTokens / ((now - runStart) / 1e9) / (B * T));
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("loss", round(loss));
                m.put("bpb", round(loss / LN2));
                m.put("lr", lr);
                m.put("grad_norm", round(norm));
                m.put("bytes_per_s", Math.round(rate));
                m.put("elapsed_s", round((now - runStart) / 1e9));
                metrics.logTrain(step, m);
                log.printf("step %d/%d | loss %.4f | %.3f bits/byte | lr %.2e | grad %.2f | %,.0f bytes/s | ETA %s%n",
                        step, steps, loss, loss / LN2, lr, norm, rate, duration(eta));
                windowStart = now;
                windowTokens = 0;
            }
            boolean last = step == steps;
            if ((settings.evalEvery() > 0 && step % settings.evalEvery() == 0) || last) {
                lastEval = evaluate();
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("loss", round(lastEval));
                m.put("bpb", round(lastEval / LN2));
                metrics.logEval(step, m);
                log.printf("step %d | held-out loss %.4f | %.4f bits/byte%n", step, lastEval, lastEval / LN2);
            }
            interrupted = stop.requested() && !last;
            if ((settings.checkpointEvery() > 0 && step % settings.checkpointEvery() == 0) || last || interrupted) {
                save(step);
            }
            if (interrupted) {
                log.printf("stopped at step %d; checkpoint saved in %s; continue with: patchwork train --resume --out %s%n", step, out, out);
                break;
            }
        }
        double seconds = (System.nanoTime() - runStart) / 1e9;
        return new Result(step, lastLoss, lastEval, interrupted, runTokens / seconds);
    }

    /** Mean loss (nats/byte) over the held-out windows ({@code eval_batches · batch_size} windows at most). */
    public double evaluate() {
        int B = settings.batchSize(), T = seqLen;
        EvalWindows windows = new EvalWindows(corpus, split, T, (long) settings.evalBatches() * B);
        int[] x = new int[B * T], y = new int[B * T];
        double sum = 0;
        long count = 0;
        int n;
        while ((n = windows.nextBatch(B, x, y)) > 0) {
            for (int i = n * T; i < B * T; i++) {
                x[i] = 0;
                y[i] = -1; // unused rows of the last batch: ignored targets
            }
            model.forward(x, B, T);
            sum += model.loss(y, null, false);
            count += (long) n * T;
        }
        if (count == 0) throw new PatchworkException("the held-out split of " + corpus.description() + " is shorter than one window of " + (T + 1) + " tokens");
        return sum / count;
    }

    /** Saves a checkpoint: the whole {@code checkpoint/} directory is built beside the old one, then swapped in. */
    private void save(long step) throws IOException {
        ObjectNode state = Json.MAPPER.createObjectNode();
        state.put("format", "patchwork-trainer");
        state.put("version", 1);
        state.put("step", step);
        state.put("optimizer_steps", optimizer.steps());
        state.put("data", dataSource);
        state.set("settings", Json.MAPPER.valueToTree(settings));
        Checkpoint.builder(config.toJson(), model.parameters())
                .optimizer(optimizer.firstMoment(), optimizer.secondMoment())
                .trainerState(Json.write(state))
                .metadata("step", Long.toString(step))
                .save(checkpointDir(out));
        LossPlot.write(out.resolve("loss.png"), "byte LM: " + out.getFileName(), metrics.train(), metrics.eval());
    }

    private static double round(double v) {
        return Math.round(v * 1e6) / 1e6;
    }

    static String duration(double seconds) {
        if (!Double.isFinite(seconds)) return "?";
        long s = Math.round(seconds);
        if (s >= 3600) return String.format("%dh%02dm", s / 3600, (s % 3600) / 60);
        if (s >= 60) return String.format("%dm%02ds", s / 60, s % 60);
        return s + "s";
    }
}

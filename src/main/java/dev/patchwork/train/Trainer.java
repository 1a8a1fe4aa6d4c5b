package dev.patchwork.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.patchwork.io.Checkpoint;
import dev.patchwork.model.ByteLmCheckpoint;
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
 * The training loop shared by every model kind ({@link TrainingTask}): AdamW with warmup + cosine schedule and
 * gradient clipping, progress on stderr, metrics as JSON lines, periodic held-out evaluation, checkpoints that a later
 * {@code --resume} continues bit-identically (batches are a pure function of (seed, step), kernels are deterministic
 * for a thread count), and a clean stop on Ctrl-C.
 *
 * <p>Run directory: {@code checkpoint/} (the latest checkpoint, replaced atomically as a whole: the task's files plus
 * {@code optimizer.safetensors} and {@code trainer.json}), {@code metrics.jsonl}, {@code loss.png} and {@code cache/}.
 */
public final class Trainer {
    private static final double LN2 = Math.log(2);

    /** How a run ended. */
    public record Result(long steps, double trainLoss, double evalLoss, boolean interrupted, double bytesPerSecond) {}

    private final TrainingTask task;
    private final TrainSettings settings;
    private final Path out;
    private final PrintStream log;
    private final StopSignal stop;
    private final ParameterBuffer grads;
    private final AdamW optimizer;
    private final long startStep;
    private final TrainingMetrics metrics;

    /**
     * @param optimizer its moments and step count restored when resuming
     * @param startStep the step to continue from (0 for a new run)
     */
    public Trainer(TrainingTask task, TrainSettings settings, Path out, PrintStream log, StopSignal stop, AdamW optimizer,
                   long startStep) {
        this.task = task;
        this.settings = settings;
        this.out = out;
        this.log = log;
        this.stop = stop;
        this.grads = ParameterBuffer.allocate(task.layout());
        this.optimizer = optimizer;
        this.startStep = startStep;
        this.metrics = new TrainingMetrics(out.resolve("metrics.jsonl"), startStep);
    }

    /** A fresh optimiser for a task with the run's settings. */
    public static AdamW optimizer(TrainingTask task, TrainSettings settings) {
        return new AdamW(task.layout(), settings.beta1(), settings.beta2(), settings.epsilon(), settings.weightDecay());
    }

    /** The latest checkpoint of the run in {@code out}. */
    public static Path checkpointDir(Path out) {
        return out.resolve(ByteLmCheckpoint.RUN_CHECKPOINT);
    }

    /** Refuses to start a run where one exists already. */
    public static void requireNoRun(Path out) {
        if (Files.exists(checkpointDir(out)))
            throw new PatchworkException(out + " already holds a training run: continue it with --resume, or choose another --out");
    }

    /** The trainer.json of the run in {@code out}, checked to be one. */
    public static JsonNode readState(Path out) {
        Path f = checkpointDir(out).resolve(Checkpoint.TRAINER_FILE);
        if (!Files.isRegularFile(f))
            throw new PatchworkException("nothing to resume: " + f + " not found (start a run without --resume)");
        JsonNode state = Json.readTree(f);
        if (!state.has("settings")) throw new PatchworkException(f + " has no 'settings': not a Patchwork trainer state");
        if (state.path("step").asLong(-1) < 0) throw new PatchworkException(f + " has no valid 'step'");
        return state;
    }

    /** The settings a run was started with. */
    public static TrainSettings savedSettings(JsonNode state, Path out) {
        return Json.bind(state.get("settings"), TrainSettings.class, checkpointDir(out).resolve(Checkpoint.TRAINER_FILE).toString());
    }

    /** Restores an optimiser from the run's checkpoint. */
    public static AdamW restoreOptimizer(TrainingTask task, TrainSettings settings, JsonNode state, Path out) {
        AdamW opt = optimizer(task, settings);
        Checkpoint.loadOptimizer(checkpointDir(out), opt.firstMoment(), opt.secondMoment());
        long step = state.path("step").asLong();
        opt.restoreSteps(state.path("optimizer_steps").asLong(step));
        return opt;
    }

    /** Runs from the current step to {@code settings.steps()}. */
    public Result run() throws IOException {
        LrSchedule schedule = settings.schedule();
        long steps = settings.steps();
        log.printf("patchwork train: %s%n", Simd.describe());
        task.describe(log);
        if (startStep > 0) log.printf("resuming at step %d of %d%n", startStep, steps);
        double lastLoss = Double.NaN, lastEval = Double.NaN;
        long windowStart = System.nanoTime(), runStart = windowStart;
        long windowBytes = 0, runBytes = 0, runSteps = 0;
        boolean interrupted = false;
        long step = startStep;
        while (step < steps) {
            grads.zero();
            TrainingTask.Loss batch = task.forwardTraining(step);
            double loss = batch.mean();
            if (!Double.isFinite(loss))
                throw new PatchworkException("loss became " + loss + " at step " + step + ": lower the learning rate (lr) or raise warmup");
            task.backward(grads);
            double norm = GradientClipping.clip(grads, settings.clip());
            double lr = settings.lr() * schedule.factor(step);
            optimizer.step(task.parameters(), grads, lr);
            step++;
            lastLoss = loss;
            windowBytes += batch.targets();
            runBytes += batch.targets();
            runSteps++;
            if (step % settings.logEvery() == 0 || step == steps) {
                long now = System.nanoTime();
                double rate = windowBytes / ((now - windowStart) / 1e9);
                double eta = (steps - step) * ((now - runStart) / 1e9) / runSteps;
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
                windowBytes = 0;
            }
            boolean last = step == steps;
            if ((settings.evalEvery() > 0 && step % settings.evalEvery() == 0) || last) {
                lastEval = task.evaluate().mean();
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
        return new Result(step, lastLoss, lastEval, interrupted, runBytes / seconds);
    }

    /** Saves a checkpoint: the whole {@code checkpoint/} directory is built beside the old one, then swapped in. */
    private void save(long step) throws IOException {
        ObjectNode state = Json.MAPPER.createObjectNode();
        state.put("format", "patchwork-trainer");
        state.put("version", 1);
        state.put("kind", task.kind());
        state.put("step", step);
        state.put("optimizer_steps", optimizer.steps());
        task.saveState(state);
        state.set("settings", Json.MAPPER.valueToTree(settings));
        task.checkpoint()
                .optimizer(optimizer.firstMoment(), optimizer.secondMoment())
                .trainerState(Json.write(state))
                .metadata("step", Long.toString(step))
                .save(checkpointDir(out));
        LossPlot.write(out.resolve("loss.png"), task.title() + ": " + out.getFileName(), metrics.train(), metrics.eval());
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

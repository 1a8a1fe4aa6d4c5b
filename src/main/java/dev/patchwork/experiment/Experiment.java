package dev.patchwork.experiment;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.patchwork.data.ByteCorpus;
import dev.patchwork.data.CorpusCache;
import dev.patchwork.data.CorpusSource;
import dev.patchwork.eval.noise.Noise;
import dev.patchwork.eval.noise.NoisedCorpus;
import dev.patchwork.io.AtomicFiles;
import dev.patchwork.train.StopSignal;
import dev.patchwork.train.TrainSettings;
import dev.patchwork.train.Trainer;
import dev.patchwork.util.Json;
import dev.patchwork.util.PatchworkException;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Trains a list of models on one corpus with the same training-FLOP budget (the BLT paper's accounting), then
 * evaluates each on the same held-out bytes, clean and noised, and writes a report ({@link ExperimentReport}).
 *
 * <p>Output directory: {@code experiment.json} (the config and data it was started with; a different one is refused),
 * {@code cache/} (the prepared corpus), {@code heldout/clean/} and {@code heldout/<noise>/} (the evaluated text),
 * {@code <name>/} (each model's training run, with {@code result.json} once it is evaluated), {@code report.md} and
 * its PNG plots. Running again skips the models that have a {@code result.json} and resumes an interrupted one from
 * its last checkpoint.
 */
public final class Experiment {
    public static final String RESULT_FILE = "result.json";
    public static final String REPORT_FILE = "report.md";

    /** A model with its step count, planned before anything is trained. */
    public record Planned(ModelSpec spec, ExperimentModel model, TrainSettings settings) {
        public long steps() {
            return settings.steps();
        }

        /** The plan again, with the steps the budget gives now that {@link ExperimentModel#prepare} has measured the data. */
        Planned replanned(double budget) {
            long steps = (long) Math.floor(budget / (model.bytesPerStep() * model.trainFlopsPerByte()));
            if (steps < 1)
                throw new PatchworkException(spec.what() + ": measured on the data, one training step costs more than train_flops = "
                        + budget + ": raise train_flops or use a smaller model, batch or sequence");
            return new Planned(spec, model, withSteps(spec.train(), steps, spec.what()));
        }

        public double trainFlops() {
            return settings.steps() * model.bytesPerStep() * model.trainFlopsPerByte();
        }
    }

    /** How a run ended: the results of the finished models, and whether it was stopped before the end. */
    public record Outcome(List<ModelResult> results, boolean interrupted) {}

    private final ExperimentConfig config;
    private final List<Planned> plan;

    private Experiment(ExperimentConfig config, List<Planned> plan) {
        this.config = config;
        this.plan = plan;
    }

    /** Plans every model of {@code config}: refuses any whose budget is smaller than one training step. */
    public static Experiment plan(ExperimentConfig config) {
        List<Planned> plan = new ArrayList<>();
        for (ModelSpec spec : config.models()) {
            TrainSettings draft = bind(spec.train(), spec.what());
            ExperimentModel model = ExperimentKinds.create(spec, draft);
            double perStep = model.bytesPerStep() * model.trainFlopsPerByte();
            long steps = (long) Math.floor(config.trainFlops() / perStep);
            if (steps < 1)
                throw new PatchworkException(String.format("%s: the budget train_flops = %.3g is smaller than one training step of this model "
                        + "(%.3g FLOPs: %.4g bytes x %.4g FLOPs/byte): raise train_flops to at least %.3g, or use a smaller model, batch or sequence",
                        spec.what(), config.trainFlops(), perStep, model.bytesPerStep(), model.trainFlopsPerByte(), perStep));
            plan.add(new Planned(spec, model, withSteps(spec.train(), steps, spec.what())));
        }
        return new Experiment(config, List.copyOf(plan));
    }

    public List<Planned> planned() {
        return plan;
    }

    public ExperimentConfig config() {
        return config;
    }

    /**
     * The settings with the step count, and the schedule scaled to it where the config leaves it out: warmup at most a
     * tenth of the steps (a warmup longer than the run would never reach the peak rate), eight held-out evaluations
     * (the points of the bpb-against-FLOPs plot) and a checkpoint at each.
     */
    static TrainSettings withSteps(ObjectNode train, long steps, String what) {
        ObjectNode n = train.deepCopy();
        n.put("steps", steps);
        TrainSettings defaults = TrainSettings.defaults();
        int warmup = n.has("warmup") ? n.get("warmup").asInt() : defaults.warmup();
        n.put("warmup", (int) Math.min(warmup, steps / 10));
        if (!n.has("eval_every")) n.put("eval_every", Math.max(1, steps / 8));
        if (!n.has("checkpoint_every")) n.put("checkpoint_every", n.get("eval_every").asLong());
        return bind(n, what);
    }

    private static TrainSettings bind(JsonNode n, String what) {
        return Json.bind(n, TrainSettings.class, what + " (train)");
    }

    /** Refuses fields of a model entry that neither every kind nor this kind reads. */
    static void requireOnly(ModelSpec spec, Set<String> kindFields) {
        for (Iterator<String> it = spec.entry().fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!ExperimentConfig.commonEntryFields().contains(f) && !kindFields.contains(f))
                throw new PatchworkException(spec.what() + ": unknown field '" + f + "' for kind " + spec.kind()
                        + (kindFields.isEmpty() ? "" : " (it may also have " + String.join(", ", kindFields) + ")"));
        }
    }

    /**
     * Runs what is left of the experiment in {@code out} and writes the report.
     *
     * @param data the corpus (file, directory, .zip, .gz or .jsonl) as {@link CorpusSource} reads it
     */
    public Outcome run(CorpusSource data, Path out, PrintStream log, StopSignal stop, CorpusCache.Progress progress) throws IOException {
        Files.createDirectories(out);
        recordConfig(data, out);
        List<ModelResult> results = new ArrayList<>();
        try (ByteCorpus corpus = ByteCorpus.open(data, out.resolve("cache"), progress)) {
            Path heldOut = out.resolve("heldout");
            HeldOutText.Stats stats = HeldOutText.write(corpus, config.heldOutFraction(), config.evalMaxBytes(), heldOut.resolve("clean"));
            log.printf("experiment: %d models, budget %.3g training FLOPs each; held-out text: %,d bytes in %,d documents%s%n",
                    plan.size(), config.trainFlops(), stats.bytes(), stats.documents(),
                    config.noises().isEmpty() ? "" : "; noised " + config.noises().size() + " ways");
            CorpusSource clean = CorpusSource.of(heldOut.resolve("clean"));
            Map<Noise, CorpusSource> noised = new LinkedHashMap<>();
            for (Noise n : config.noises()) {
                try (NoisedCorpus c = NoisedCorpus.into(clean, n, config.seed(), heldOut.resolve(n.name()))) {
                    noised.put(n, c.source());
                }
            }
            for (int i = 0; i < plan.size(); i++) {
                Planned p = plan.get(i);
                String tag = String.format("experiment [%d/%d] %s", i + 1, plan.size(), p.spec().name());
                Path dir = out.resolve(p.spec().name());
                Path resultFile = dir.resolve(RESULT_FILE);
                if (Files.isRegularFile(resultFile)) {
                    results.add(Json.bind(Json.readTree(resultFile), ModelResult.class, resultFile.toString()));
                    log.printf("%s: finished earlier, skipped (%s)%n", tag, resultFile);
                    continue;
                }
                p.model().prepare(corpus, dir, log);
                p = p.replanned(config.trainFlops());
                log.printf("%s: %s, %,d parameters; %,d steps x %,.0f bytes x %.4g FLOPs/byte = %.3g training FLOPs%n", tag,
                        p.model().describe(), p.model().parameters(), p.steps(), p.model().bytesPerStep(), p.model().trainFlopsPerByte(), p.trainFlops());
                long start = System.nanoTime();
                Trainer.Result r = p.model().train(new ExperimentModel.Training(corpus, data.path().toString(), dir, p.settings(), log, stop));
                if (r.interrupted()) {
                    log.printf("%s: stopped; run the same command again to resume%n", tag);
                    return new Outcome(results, true);
                }
                double trainSeconds = (System.nanoTime() - start) / 1e9;
                log.printf("%s: evaluating on the held-out text%n", tag);
                ExperimentModel.Evaluation e = p.model().evaluate(dir, clean, true);
                Map<String, Double> noisedBpb = new LinkedHashMap<>();
                for (Map.Entry<Noise, CorpusSource> n : noised.entrySet()) {
                    noisedBpb.put(n.getKey().name(), p.model().evaluate(dir, n.getValue(), false).bitsPerByte());
                }
                ModelResult result = new ModelResult(p.spec().name(), p.spec().kind(), p.model().describe(), p.model().parameters(), p.steps(),
                        p.model().bytesPerStep(), p.model().trainFlopsPerByte(), p.trainFlops(), e.bytes(), e.bitsPerByte(), p.model().plannedPatchSize(), e.meanPatchSize(),
                        e.inferenceFlopsPerByte(), noisedBpb, e.patchLengthCounts(), trainSeconds);
                AtomicFiles.writeString(resultFile, Json.write(result));
                results.add(result);
                log.printf("%s: %.4f bits/byte held out%s, %.4g inference FLOPs/byte%n", tag, e.bitsPerByte(),
                        e.meanPatchSize() == null ? "" : String.format(", mean patch size %.3f", e.meanPatchSize()), e.inferenceFlopsPerByte());
            }
        }
        ExperimentReport.write(out, this, data.description(), results);
        log.printf("experiment: report in %s%n", out.resolve(REPORT_FILE));
        return new Outcome(results, false);
    }

    /** Writes {@code experiment.json}, or checks that the one there describes the same experiment. */
    private void recordConfig(CorpusSource data, Path out) throws IOException {
        ObjectNode record = Json.MAPPER.createObjectNode();
        record.put("data", data.description());
        record.set("config", config.json());
        Path file = out.resolve("experiment.json");
        if (Files.isRegularFile(file)) {
            if (!Json.readTree(file).equals(record))
                throw new PatchworkException(out + " holds an experiment with another config or data (" + file
                        + "): choose another --out, or delete it to start over");
            return;
        }
        AtomicFiles.writeString(file, Json.write(record));
    }
}

package dev.patchwork.cli;

import dev.patchwork.data.CorpusOptions;
import dev.patchwork.data.CorpusSource;
import dev.patchwork.experiment.Experiment;
import dev.patchwork.experiment.ExperimentConfig;
import dev.patchwork.train.StopSignal;
import dev.patchwork.util.PatchworkException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code patchwork experiment}: FLOP-matched training and evaluation of several models, with a report. */
@Command(name = "experiment", mixinStandardHelpOptions = true,
        description = "Train several models (byte LM, BPE-token LM, MEGABYTE, BLT with static/space/entropy patching) with the same training-FLOP budget, "
                + "evaluate them on the same held-out bytes, clean and noised, and write DIR/report.md with plots.",
        footer = {"", "The config lists the models (name, kind, config, patching, patch_size, train overrides), the budget",
                "train_flops, held_out_fraction, eval_max_bytes, noise and the shared train settings (no steps: they follow from",
                "the budget). Running the same command again skips finished models and resumes an interrupted one.", "",
                "Examples:",
                "  patchwork experiment --config experiments/shakespeare.json --data input.txt --out runs/exp-shakespeare",
                "  patchwork experiment --config experiments/shakespeare.json --train-flops 1e13 --data input.txt --out runs/exp-1e13",
                "  patchwork experiment --config experiments/java-sources.json --data /usr/lib/jvm/temurin-25-jdk-amd64/lib/src.zip --zip-suffix .java --out runs/exp-java"})
final class ExperimentCommand implements Callable<Integer> {
    @Option(names = "--config", required = true, paramLabel = "FILE", description = "Experiment config JSON.")
    Path config;
    @Option(names = "--data", required = true, paramLabel = "PATH", description = "Corpus: file, directory, .zip, .gz or .jsonl.")
    Path data;
    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Experiment directory (runs, report).")
    Path out;
    @Option(names = "--train-flops", paramLabel = "N", description = "Training-FLOP budget of each model, replacing the config's train_flops (e.g. 1e13).")
    Double trainFlops;
    @Option(names = "--zip-suffix", paramLabel = "SUFFIX", description = "Only use archive/directory entries ending with this (repeatable).")
    java.util.List<String> suffixes = new java.util.ArrayList<>();

    @Override
    public Integer call() throws Exception {
        if (!Files.exists(data)) throw new PatchworkException("data not found: " + data);
        Experiment experiment = Experiment.plan(ExperimentConfig.load(config, trainFlops)); // refuses bad configs before any work
        CorpusOptions options = suffixes.isEmpty() ? CorpusOptions.ALL : CorpusOptions.including(suffixes.toArray(String[]::new));
        Experiment.Outcome outcome;
        try (StopSignal stop = StopSignal.install()) {
            outcome = experiment.run(CorpusSource.of(data, options), out, System.err, stop, Progress.corpus(System.err));
        }
        return outcome.interrupted() ? 130 : 0;
    }
}

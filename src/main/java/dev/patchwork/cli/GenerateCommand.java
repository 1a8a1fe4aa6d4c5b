package dev.patchwork.cli;

import dev.patchwork.generate.ByteLmGenerator;
import dev.patchwork.generate.SamplingOptions;
import dev.patchwork.generate.Utf8Stream;
import dev.patchwork.model.ByteLm;
import dev.patchwork.model.ByteLmCheckpoint;
import dev.patchwork.util.PatchworkException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code patchwork generate}: streams bytes sampled from a model to stdout. */
@Command(name = "generate", mixinStandardHelpOptions = true, description = "Generate text from a model, streamed to stdout.",
        footer = {"", "Examples:", "  patchwork generate --model runs/tiny --prompt \"ROMEO:\"",
                "  patchwork generate --model runs/tiny --prompt \"public static\" --greedy --max-bytes 200",
                "  patchwork generate --model runs/tiny --prompt \"The\" --temperature 0.7 --top-p 0.9 --seed 3"})
final class GenerateCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "DIR")
    Path model;
    @Option(names = "--prompt", defaultValue = "", description = "Text to continue (UTF-8).")
    String prompt;
    @Option(names = "--max-bytes", defaultValue = "256")
    int maxBytes;
    @Option(names = "--temperature", defaultValue = "0.8")
    double temperature;
    @Option(names = "--greedy", description = "Always take the most likely byte (same as --temperature 0).")
    boolean greedy;
    @Option(names = "--top-k", defaultValue = "0", description = "Sample among the k most likely bytes (0: all).")
    int topK;
    @Option(names = "--top-p", defaultValue = "1.0", description = "Nucleus sampling mass (1: off).")
    double topP;
    @Option(names = "--seed", defaultValue = "0")
    long seed;
    @Option(names = "--no-stop-at-eos", description = "Keep generating past an end-of-document id.")
    boolean noStop;

    @Override
    public Integer call() {
        if (maxBytes < 0) throw new PatchworkException("--max-bytes must be >= 0, got " + maxBytes);
        SamplingOptions options = new SamplingOptions(greedy ? 0 : temperature, topK, topP, seed);
        ByteLm m = ByteLmCheckpoint.load(model);
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        Utf8Stream text = new Utf8Stream();
        out.print(prompt);
        long start = System.nanoTime();
        ByteLmGenerator.Result r = new ByteLmGenerator(m).generate(prompt.getBytes(StandardCharsets.UTF_8), maxBytes,
                !noStop, options, b -> {
                    String s = text.push((byte) b);
                    if (!s.isEmpty()) out.print(s);
                    return !out.checkError(); // stop when stdout is gone (e.g. piped into head)
                });
        out.print(text.finish());
        out.println();
        double secs = (System.nanoTime() - start) / 1e9;
        System.err.printf("[%d bytes, stopped by %s, %.1f bytes/s]%n", r.bytes().length,
                r.reason().name().toLowerCase(), r.steps() / secs);
        return 0;
    }
}

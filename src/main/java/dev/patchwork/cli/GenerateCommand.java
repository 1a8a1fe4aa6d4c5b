package dev.patchwork.cli;

import dev.patchwork.io.WeightStorage;
import dev.patchwork.generate.BltBundle;
import dev.patchwork.generate.BltGeneration;
import dev.patchwork.generate.ByteLmGenerator;
import dev.patchwork.generate.MegabyteGenerator;
import dev.patchwork.generate.SamplingOptions;
import dev.patchwork.generate.TokenLmGenerator;
import dev.patchwork.generate.Utf8Stream;
import dev.patchwork.model.ModelDirectory;
import dev.patchwork.tokenizer.BpeTokenizer;
import dev.patchwork.util.PatchworkException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.function.IntPredicate;

/** {@code patchwork generate}: streams bytes sampled from a byte LM or a BLT to stdout. */
@Command(name = "generate", mixinStandardHelpOptions = true, description = "Generate text from a model (a byte LM or a BLT), streamed to stdout.",
        footer = {"", "Examples:", "  patchwork generate --model runs/tiny --prompt \"ROMEO:\"",
                "  patchwork generate --model runs/tiny --prompt \"public static\" --greedy --max-bytes 200",
                "  patchwork generate --model runs/tiny --prompt \"The\" --temperature 0.7 --top-p 0.9 --seed 3",
                "  patchwork generate --model runs/blt --prompt \"The\" --greedy          # a BLT: KV caches, global model once per patch",
                "  patchwork generate --model runs/blt --prompt \"The\" --greedy --no-cache   # the reference's procedure (slow)"})
final class GenerateCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "DIR", description = "A run directory or a model directory (config.json + model.safetensors; a BLT also has entropy_model/).")
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
    @Option(names = "--dtype", defaultValue = "auto", paramLabel = "auto|f32|mapped",
            description = "Weights: auto keeps BF16/F16 matrices mapped from the checkpoint (no float32 copy), f32 widens everything, mapped also keeps F32 matrices mapped. Default: ${DEFAULT-VALUE}.")
    String dtype;

    @Option(names = "--no-cache", description = "BLT: run the reference's procedure (entropy model, patcher and whole BLT on the whole prefix at every byte) instead of the KV caches.")
    boolean noCache;
    @Option(names = "--threshold", paramLabel = "θ", description = "BLT: entropy threshold (nats) instead of the model's (train_args.json, else config.json).")
    Double threshold;
    @Option(names = "--max-prompt-ids", defaultValue = "256", description = "BLT: keep the last N ids of BOS + prompt, as the reference does (default: ${DEFAULT-VALUE}).")
    int maxPromptIds;

    @Override
    public Integer call() {
        if (maxBytes < 0) throw new PatchworkException("--max-bytes must be >= 0, got " + maxBytes);
        SamplingOptions options = new SamplingOptions(greedy ? 0 : temperature, topK, topP, seed);
        ModelDirectory dir = ModelDirectory.of(model);
        if (dir.kind() == ModelDirectory.Kind.BLT) return blt(dir, options);
        if (noCache || threshold != null)
            throw new PatchworkException("--no-cache and --threshold apply to BLT models; " + model + " holds a " + dir.kind().description());
        // Load before printing anything: a bad checkpoint or tokenizer fails with nothing on stdout.
        ByteGeneration generation = loadByteGeneration(dir, options);
        PrintStream out = stdout();
        Utf8Stream text = new Utf8Stream();
        out.print(prompt);
        long start = System.nanoTime();
        ByteLmGenerator.Result r = generation.generate(prompt.getBytes(StandardCharsets.UTF_8), b -> print(out, text, b));
        byte[] generated = r.bytes();
        ByteLmGenerator.Stop reason = r.reason();
        out.print(text.finish());
        out.println();
        double secs = (System.nanoTime() - start) / 1e9;
        System.err.printf("[%d bytes, stopped by %s, %.1f bytes/s]%n", generated.length, reason.name().toLowerCase(),
                generated.length / secs);
        return 0;
    }

    /** A loaded byte-, token- or MEGABYTE-level generator, ready to run on a prompt. */
    private interface ByteGeneration {
        ByteLmGenerator.Result generate(byte[] prompt, IntPredicate onByte);
    }

    private ByteGeneration loadByteGeneration(ModelDirectory dir, SamplingOptions options) {
        if (dir.kind() == ModelDirectory.Kind.MEGABYTE) {
            MegabyteGenerator g = new MegabyteGenerator(dir.loadMegabyte());
            return (p, onByte) -> g.generate(p, maxBytes, !noStop, options, onByte);
        }
        Path tokenizerFile = dir.checkpoint().resolve(BpeTokenizer.FILE_NAME);
        if (Files.isRegularFile(tokenizerFile)) { // a BPE baseline: tokens decoded to bytes
            TokenLmGenerator g = new TokenLmGenerator(dir.loadByteLm(WeightStorage.parse(dtype)), BpeTokenizer.load(tokenizerFile));
            return (p, onByte) -> g.generate(p, maxBytes, !noStop, options, onByte);
        }
        ByteLmGenerator g = new ByteLmGenerator(dir.loadByteLm(WeightStorage.parse(dtype)));
        return (p, onByte) -> g.generate(p, maxBytes, !noStop, options, onByte);
    }

    private Integer blt(ModelDirectory dir, SamplingOptions options) {
        if (maxPromptIds < 1) throw new PatchworkException("--max-prompt-ids must be >= 1, got " + maxPromptIds);
        BltBundle bundle = BltBundle.load(dir, threshold, WeightStorage.parse(dtype));
        BltGeneration generator = bundle.generator(!noCache);
        byte[] promptBytes = prompt.getBytes(StandardCharsets.UTF_8);
        if (promptBytes.length + 1 > maxPromptIds)
            System.err.printf("[the prompt has %d ids with BOS; the model sees its last %d (--max-prompt-ids)]%n", promptBytes.length + 1, maxPromptIds);
        PrintStream out = stdout();
        Utf8Stream text = new Utf8Stream();
        out.print(prompt);
        var settings = new BltGeneration.Settings(maxBytes, !noStop, options, maxPromptIds);
        BltGeneration.Result r = generator.generate(promptBytes, settings,
                s -> s.id() < 4 || print(out, text, s.id() - 4));
        out.print(text.finish());
        out.println();
        BltGeneration.Stats st = r.stats();
        System.err.printf("[%d bytes, stopped by %s, %.1f bytes/s%s; %d patches over the last %d ids (mean patch size %.2f), %.3f global steps per byte]%n",
                r.bytes().length, r.reason().name().toLowerCase(), st.bytesPerSecond(), noCache ? ", no cache" : "",
                st.contextPatches(), st.contextIds(), st.meanPatchSize(), st.globalStepsPerByte());
        return 0;
    }

    private static PrintStream stdout() {
        return new PrintStream(System.out, true, StandardCharsets.UTF_8);
    }

    /** Prints the characters a byte completes; false when stdout is gone (e.g. piped into head), to stop. */
    private static boolean print(PrintStream out, Utf8Stream text, int b) {
        String s = text.push((byte) b);
        if (!s.isEmpty()) out.print(s);
        return !out.checkError();
    }
}

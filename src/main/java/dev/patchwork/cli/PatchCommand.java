package dev.patchwork.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.patchwork.data.ByteTokens;
import dev.patchwork.data.CorpusSource;
import dev.patchwork.io.Checkpoint;
import dev.patchwork.io.WeightStorage;
import dev.patchwork.patch.EntropiesFile;
import dev.patchwork.patch.EntropyModel;
import dev.patchwork.patch.EntropyPlot;
import dev.patchwork.patch.PatcherConfig;
import dev.patchwork.patch.PatcherConfig.Mode;
import dev.patchwork.patch.Patcher;
import dev.patchwork.patch.Patches;
import dev.patchwork.patch.ThresholdCalibration;
import dev.patchwork.tokenizer.BpeTokenizer;
import dev.patchwork.util.Json;
import dev.patchwork.util.PatchworkException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;

/**
 * {@code patchwork patch}: the patch inspector (how an entropy model, or another rule, cuts a text into patches), and
 * {@code patchwork patch calibrate}: the threshold that gives a target mean patch size on a corpus.
 */
@Command(name = "patch", mixinStandardHelpOptions = true, description = "Show how a text is cut into patches (entropy, space, static, byte or BPE patching).",
        subcommands = PatchCommand.Calibrate.class,
        footer = {"", "The ids are BOS + the text's bytes (+ EOS with --add-eos); H[t] is the entropy model's uncertainty about",
                "id t+1, and with entropy patching id t+1 starts a patch when H[t] > threshold.",
                "", "Examples:",
                "  patchwork patch --entropy-model runs/entropy --threshold 1.34 --text \"Daenerys Targaryen is in Game of Thrones\"",
                "  patchwork patch --entropy-model runs/entropy --threshold 1.34 --file doc.txt --json",
                "  patchwork patch --entropy-model runs/entropy --threshold 1.34 --text \"hello\" --plot entropy.png",
                "  patchwork patch --entropies h.json --threshold 1.34",
                "  patchwork patch --mode space --text \"split at spaces\"",
                "  patchwork patch calibrate --entropy-model runs/entropy --data corpus.txt --target-size 4.5"})
final class PatchCommand implements Callable<Integer> {
    @Option(names = "--entropy-model", paramLabel = "DIR", description = "Byte LM (a run or config.json + model.safetensors) that computes the entropies.")
    Path entropyModel;
    @Option(names = "--text", description = "The text to patch (UTF-8).")
    String text;
    @Option(names = "--file", paramLabel = "FILE", description = "A file whose bytes to patch.")
    Path file;
    @Option(names = "--entropies", paramLabel = "FILE.json", description = "Precomputed entropies: a JSON array of numbers, position 0 (BOS) first.")
    Path entropiesFile;
    @Option(names = "--mode", defaultValue = "entropy", description = "entropy (threshold), topk (no threshold), space, static, byte or bpe. Default: ${DEFAULT-VALUE}.")
    String mode;
    @Option(names = "--tokenizer", paramLabel = "FILE", description = "bpe mode: the BPE tokenizer (patchwork tokenizer train) whose tokens become patches.")
    Path tokenizer;
    @Option(names = "--threshold", paramLabel = "θ", description = "Entropy threshold in nats (default: the model's train_args.json, if it has one).")
    Double threshold;
    @Option(names = "--threshold-add", paramLabel = "θ", description = "Also require H[t] − H[t−1] > this (global+relative rule).")
    Double thresholdAdd;
    @Option(names = "--monotonicity", description = "Relative rule: a patch starts when H[t] − H[t−1] > threshold.")
    boolean monotonicity;
    @Option(names = "--max-patch-length", paramLabel = "N", description = "Split patches longer than this.")
    Integer maxPatchLength;
    @Option(names = "--patch-size", description = "topk: target mean size; static: the patch size. Default: ${DEFAULT-VALUE}.", defaultValue = "4.5")
    double patchSize;
    @Option(names = "--include-next-token", description = "Patch as at inference: the lengths also cover the virtual next byte (they sum to N+1).")
    boolean includeNextToken;
    @Option(names = "--add-eos", description = "Append EOS to the ids, as in training data (BOS + bytes + EOS).")
    boolean addEos;
    @Option(names = "--json", description = "Print one JSON object instead of text.")
    boolean json;
    @Option(names = "--plot", paramLabel = "OUT.png", description = "Also plot the entropies, threshold and boundaries to a PNG.")
    Path plot;
    /** The train_args.json the threshold was read from, if it was. */
    private Path thresholdSource;

    @Option(names = "--color", defaultValue = "auto", description = "Colour the patches: auto (on a terminal), always or never. Default: ${DEFAULT-VALUE}.")
    String color;

    @Override
    public Integer call() throws IOException {
        if (text != null && file != null) throw new PatchworkException("give --text or --file, not both");
        if (entropyModel != null && entropiesFile != null) throw new PatchworkException("give --entropy-model or --entropies, not both");
        if (!Set.of("auto", "always", "never").contains(color)) throw new PatchworkException("--color must be auto, always or never, got '" + color + "'");
        byte[] bytes = readInput();
        boolean bpe = "bpe".equals(mode);
        if (tokenizer != null && !bpe) throw new PatchworkException("--tokenizer applies to --mode bpe");
        if (bpe && bytes != null && tokenizer == null)
            throw new PatchworkException("bpe patching cuts at BPE tokens: give --tokenizer FILE (make one with patchwork tokenizer train)");
        int[] ids = bytes == null ? null : bpe ? delimitedIds(bytes) : ByteTokens.encode(bytes, true, addEos);

        ModelDir model = entropyModel == null ? null : ModelDir.of(entropyModel);
        PatcherConfig config = config(model);
        Patcher patcher = config.build();

        float[] entropies = null;
        if (entropiesFile != null) {
            entropies = EntropiesFile.read(entropiesFile);
            if (ids != null && ids.length != entropies.length)
                throw new PatchworkException(entropiesFile + " has " + entropies.length + " entropies but the text gives " + ids.length
                        + " ids (BOS + " + bytes.length + " bytes" + (addEos ? " + EOS" : "") + "): give one entropy per id" + (addEos ? "" : " (or --add-eos)"));
        } else if (model != null) {
            if (ids == null) throw new PatchworkException("--entropy-model needs a text: give --text or --file");
            entropies = model.load().entropies(ids);
        }
        if (patcher.usesEntropies() && entropies == null)
            throw new PatchworkException(config.patchingMode().jsonName() + " patching needs entropies: give --entropy-model DIR (or --entropies FILE.json)");
        if (patcher.readsIds() && ids == null)
            throw new PatchworkException(mode + " patching reads the bytes: give --text or --file");
        if (ids == null && entropies == null) throw new PatchworkException("nothing to patch: give --text or --file (or --entropies FILE.json)");
        if (plot != null && entropies == null) throw new PatchworkException("--plot needs entropies: give --entropy-model DIR or --entropies FILE.json");

        Patches patches = patcher.patch(ids, patcher.usesEntropies() ? entropies : null, includeNextToken);
        int n = ids != null ? ids.length : entropies.length;
        Double drawn = config.hasThreshold() && !config.monotonicity() ? config.threshold() : null;
        if (plot != null) {
            EntropyPlot.write(plot, String.format("%s: %d patches, mean size %.2f", patcher.describe(), patches.count(), patches.meanPatchSize()),
                    entropies, patches, ids == null ? null : labels(ids), drawn);
        }
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        if (json) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("mode", mode);
            o.put("rule", patcher.describe());
            o.put("threshold", config.hasThreshold() ? config.threshold() : null);
            o.put("threshold_add", config.thresholdAdd());
            o.put("monotonicity", config.monotonicity());
            o.put("max_patch_length", config.maxPatchLength());
            o.put("patch_size", config.patchSize());
            o.put("include_next_token", includeNextToken);
            o.put("bytes", bytes == null ? null : bytes.length);
            o.put("positions", n);
            o.put("entropies", entropies);
            o.put("patch_lengths", patches.lengths());
            o.put("num_patches", patches.count());
            o.put("mean_patch_size", patches.meanPatchSize());
            if (ids != null) o.put("patches", PatchView.patchTexts(ids, patches, false));
            out.println(Json.MAPPER.writer().without(SerializationFeature.INDENT_OUTPUT).writeValueAsString(o));
        } else {
            if (ids != null) out.println(PatchView.render(ids, patches, colour()));
            else out.println("patch lengths: " + Arrays.toString(patches.lengths()));
            out.printf("%s, include_next_token=%s%s%n", patcher.describe(), includeNextToken,
                    thresholdSource == null ? "" : " (threshold from " + thresholdSource + ")");
            out.printf("%d patches over %d positions%s: mean patch size %.4f%n", patches.count(), patches.totalLength(),
                    bytes == null ? "" : " (" + bytes.length + " bytes + BOS" + (addEos ? " + EOS" : "") + (includeNextToken ? " + the next byte" : "") + ")",
                    patches.meanPatchSize());
            if (patches.count() > 0) out.print("patch sizes:\n" + PatchView.histogram(patches));
            if (plot != null) out.println("plot: " + plot);
        }
        return 0;
    }

    /** The reference's BPE-delimiter stream: BOS, then id 3 before each token's bytes (and EOS with --add-eos). */
    private int[] delimitedIds(byte[] bytes) {
        int[] ids = BpeTokenizer.load(tokenizer).delimitedIds(bytes, true);
        if (!addEos) return ids;
        int[] withEos = Arrays.copyOf(ids, ids.length + 1);
        withEos[ids.length] = ByteTokens.EOS;
        return withEos;
    }

    private byte[] readInput() {
        if (text != null) return text.getBytes(StandardCharsets.UTF_8);
        if (file == null) return null;
        try {
            return Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            throw new PatchworkException("file not found: " + file);
        } catch (IOException e) {
            throw new PatchworkException("cannot read " + file + ": " + e.getMessage());
        }
    }

    /** The patcher settings from the flags; the threshold of entropy mode falls back to the model's train_args.json. */
    private PatcherConfig config(ModelDir model) {
        Mode m;
        Double theta = null;
        switch (mode) {
            case "entropy" -> {
                m = Mode.ENTROPY;
                theta = threshold != null ? threshold : model == null ? null : model.trainArgsThreshold();
                if (threshold == null && theta != null) thresholdSource = model.trainArgs();
                if (theta == null)
                    throw new PatchworkException("missing threshold: give --threshold θ (nats; `patchwork patch calibrate` finds one for a target patch size), "
                            + "or --mode topk for patching without one");
            }
            case "topk" -> {
                if (threshold != null) throw new PatchworkException("--mode topk takes no --threshold (it opens the N/patch_size − 2 highest-entropy patches)");
                m = Mode.ENTROPY;
            }
            case "space" -> m = Mode.SPACE;
            case "static" -> m = Mode.STATIC;
            case "byte" -> m = Mode.BYTE;
            case "bpe" -> m = Mode.BPE;
            default -> throw new PatchworkException("--mode must be entropy, topk, space, static, byte or bpe, got '" + mode + "'");
        }
        if (m != Mode.ENTROPY && (threshold != null || thresholdAdd != null || monotonicity))
            throw new PatchworkException("--threshold, --threshold-add and --monotonicity apply to entropy patching, not --mode " + mode);
        if (threshold != null && threshold < 0) throw new PatchworkException("--threshold must be >= 0 (nats), got " + threshold);
        return new PatcherConfig(m, theta, thresholdAdd, monotonicity, maxPatchLength, patchSize);
    }

    private boolean colour() {
        return switch (color) {
            case "always" -> true;
            case "never" -> false;
            default -> System.console() != null && System.console().isTerminal() && System.getenv("NO_COLOR") == null;
        };
    }

    /** The character at each position for the plot's axis (bytes of multi-byte characters show as ·). */
    private static String[] labels(int[] ids) {
        String[] l = new String[ids.length];
        for (int t = 0; t < ids.length; t++) {
            int id = ids[t];
            int b = id - ByteTokens.OFFSET;
            l[t] = id == ByteTokens.BOS ? "<s>" : id == ByteTokens.EOS ? "</s>" : id < ByteTokens.OFFSET ? "#"
                    : b == ' ' ? "_" : b > ' ' && b < 0x7f ? Character.toString(b) : "·";
        }
        return l;
    }

    /**
     * Where the entropy model is: a byte LM directory (a run, or config.json + model.safetensors), or a reference BLT hub
     * directory whose {@code entropy_model/} subdirectory holds it. The reference stores the patcher's threshold in
     * {@code train_args.json} ({@code data.patcher_args.threshold}) next to the BLT, i.e. in the directory or its parent.
     */
    record ModelDir(Path lm, Path trainArgs) {
        static ModelDir of(Path dir) {
            if (!Files.isDirectory(dir)) throw new PatchworkException("--entropy-model " + dir + " is not a directory");
            Path inRun = dir.resolve(dev.patchwork.model.ByteLmCheckpoint.RUN_CHECKPOINT);
            if (!dev.patchwork.model.ModelDirectory.holdsModel(dir) && dev.patchwork.model.ModelDirectory.holdsModel(inRun))
                dir = inRun; // a run directory: its latest checkpoint
            Path lm = dir;
            if (dev.patchwork.model.ModelDirectory.holdsModel(dir.resolve(dev.patchwork.model.ModelDirectory.ENTROPY_MODEL_DIR))) lm = dir.resolve(dev.patchwork.model.ModelDirectory.ENTROPY_MODEL_DIR);
            Path trainArgs = null;
            for (Path d : new Path[]{lm, lm.toAbsolutePath().getParent()}) {
                if (d != null && Files.exists(d.resolve("train_args.json"))) {
                    trainArgs = d.resolve("train_args.json");
                    break;
                }
            }
            return new ModelDir(lm, trainArgs);
        }

        EntropyModel load() {
            try {
                return EntropyModel.load(lm, WeightStorage.AUTO); // a BF16/F16 entropy model stays mapped
            } catch (PatchworkException | IllegalArgumentException e) {
                throw new PatchworkException("--entropy-model " + lm + " is not a byte LM: " + e.getMessage());
            }
        }

        /**
         * {@code data.patcher_args.threshold} of train_args.json, or null when there is none (no file, no patcher args,
         * or a model trained without entropy thresholds).
         */
        Double trainArgsThreshold() {
            if (trainArgs == null) return null;
            try {
                JsonNode patcherArgs = Json.readTree(trainArgs).path("data").path("patcher_args");
                if (patcherArgs.isMissingNode()) return null;
                PatcherConfig c = PatcherConfig.fromJson(patcherArgs, "data.patcher_args");
                return c.hasThreshold() ? c.threshold() : null;
            } catch (PatchworkException e) {
                throw new PatchworkException("cannot take the threshold from " + trainArgs + " (" + e.getMessage() + "): give --threshold");
            }
        }
    }

    /** {@code patchwork patch calibrate}: the threshold that gives a target mean patch size on a corpus. */
    @Command(name = "calibrate", mixinStandardHelpOptions = true, description = "Find the entropy threshold that gives a target mean patch size on a corpus.",
            footer = {"", "Documents are BOS + bytes + EOS and are patched as for training (include_next_token=false); the mean",
                    "patch size is positions / patches over all documents read.",
                    "", "Examples:",
                    "  patchwork patch calibrate --entropy-model runs/entropy --data corpus.txt --target-size 4.5",
                    "  patchwork patch calibrate --entropy-model runs/entropy --data docs/ --target-size 6 --max-bytes 5000000 --json"})
    static final class Calibrate implements Callable<Integer> {
        @Option(names = "--entropy-model", required = true, paramLabel = "DIR")
        Path entropyModel;
        @Option(names = "--data", required = true, paramLabel = "PATH", description = "File, directory, .zip, .gz or .jsonl.")
        Path data;
        @Option(names = "--target-size", defaultValue = "4.5", description = "Mean patch size to reach. Default: ${DEFAULT-VALUE}.")
        double targetSize;
        @Option(names = "--tolerance", defaultValue = "0.01", description = "Relative tolerance. Default: ${DEFAULT-VALUE} (1%%).")
        double tolerance;
        @Option(names = "--max-bytes", defaultValue = "1000000", description = "Read at most this many bytes of the corpus. Default: ${DEFAULT-VALUE}.")
        long maxBytes;
        @Option(names = "--monotonicity", description = "Calibrate the relative rule instead of the global one.")
        boolean monotonicity;
        @Option(names = "--threshold-add", paramLabel = "θ", description = "Calibrate the global threshold of the global+relative rule with this relative one.")
        Double thresholdAdd;
        @Option(names = "--max-patch-length", paramLabel = "N")
        Integer maxPatchLength;
        @Option(names = "--json", description = "Print one JSON object instead of text.")
        boolean json;

        /** Ends the walk over the corpus once the byte budget is spent. */
        private static final class BudgetSpent extends IOException {
            BudgetSpent() {
                super("byte budget spent");
            }
        }

        @Override
        public Integer call() throws IOException {
            if (maxBytes < 1) throw new PatchworkException("--max-bytes must be >= 1, got " + maxBytes);
            if (!(targetSize > 0) || Double.isInfinite(targetSize)) throw new PatchworkException("--target-size must be a number > 0, got " + targetSize);
            if (!Files.exists(data)) throw new PatchworkException("data not found: " + data);
            PatcherConfig template = new PatcherConfig(Mode.ENTROPY, 0.0, thresholdAdd, monotonicity, maxPatchLength, PatcherConfig.DEFAULT_PATCH_SIZE);
            EntropyModel model = ModelDir.of(entropyModel).load();
            List<float[]> docs = new ArrayList<>();
            long[] read = {0};
            long start = System.nanoTime();
            long[] lastReport = {start};
            try {
                CorpusSource.of(data).forEachDocument((name, in) -> {
                    byte[] b = readAtMost(in, maxBytes - read[0]);
                    read[0] += b.length;
                    docs.add(model.entropies(ByteTokens.encode(b, true, true)));
                    long now = System.nanoTime();
                    if (now - lastReport[0] > 1_000_000_000L) {
                        lastReport[0] = now;
                        System.err.printf("entropies: %,d / %,d bytes (%,.0f bytes/s)%n", read[0], maxBytes, read[0] / ((now - start) / 1e9));
                    }
                    if (read[0] >= maxBytes) throw new BudgetSpent();
                });
            } catch (BudgetSpent enough) {
                // the budget is spent: calibrate on what was read
            }
            if (docs.isEmpty()) throw new PatchworkException("no documents in " + data + ": give a non-empty corpus");
            ThresholdCalibration.Result r = new ThresholdCalibration(docs, template).calibrate(targetSize, tolerance);
            PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
            if (json) {
                Map<String, Object> o = new LinkedHashMap<>();
                o.put("threshold", r.threshold());
                o.put("mean_patch_size", r.meanPatchSize());
                o.put("target_size", r.targetSize());
                o.put("within_tolerance", r.withinTolerance());
                o.put("tolerance", tolerance);
                o.put("step_low", r.stepLow());
                o.put("step_high", Float.isInfinite(r.stepHigh()) ? null : r.stepHigh());
                o.put("documents", r.documents());
                o.put("bytes", read[0]);
                o.put("positions", r.positions());
                o.put("patches", r.patches());
                o.put("rule", template.withThreshold((double) r.threshold()).build().describe());
                o.put("note", r.note());
                out.println(Json.MAPPER.writer().without(SerializationFeature.INDENT_OUTPUT).writeValueAsString(o));
            } else {
                out.printf("threshold %s gives mean patch size %.4f (target %s, %s) over %,d positions (%,d bytes in %,d documents, %,d patches)%n",
                        r.threshold(), r.meanPatchSize(), targetSize, r.withinTolerance() ? String.format("within %.1f%%", 100 * tolerance) : "NOT within " + String.format("%.1f%%", 100 * tolerance),
                        r.positions(), read[0], r.documents(), r.patches());
                out.printf("every threshold in [%s, %s%s gives the same patches%n", r.stepLow(), Float.isInfinite(r.stepHigh()) ? "∞" : r.stepHigh(), Float.isInfinite(r.stepHigh()) ? ")" : "]");
                if (!r.note().isEmpty()) out.println("note: " + r.note());
                out.printf("use: patchwork patch --entropy-model %s --threshold %s ...%n", entropyModel, r.threshold());
            }
            return 0;
        }

        private static byte[] readAtMost(InputStream in, long budget) throws IOException {
            return in.readNBytes((int) Math.min(budget, Integer.MAX_VALUE - 16));
        }
    }
}

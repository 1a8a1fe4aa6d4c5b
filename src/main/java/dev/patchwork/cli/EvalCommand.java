package dev.patchwork.cli;

import dev.patchwork.io.WeightStorage;
import dev.patchwork.data.CorpusOptions;
import dev.patchwork.data.CorpusSource;
import dev.patchwork.eval.BltEvaluator;
import dev.patchwork.eval.ByteLmEvaluator;
import dev.patchwork.eval.FlopAccounting;
import dev.patchwork.eval.MegabyteEvaluator;
import dev.patchwork.eval.TokenLmEvaluator;
import dev.patchwork.eval.noise.Noise;
import dev.patchwork.eval.noise.NoisedCorpus;
import dev.patchwork.model.Blt;
import dev.patchwork.model.BltCheckpoint;
import dev.patchwork.model.ByteLm;
import dev.patchwork.model.ByteLmCheckpoint;
import dev.patchwork.model.Megabyte;
import dev.patchwork.model.ModelDirectory;
import dev.patchwork.patch.EntropyModel;
import dev.patchwork.patch.PatcherConfig;
import dev.patchwork.tensor.Simd;
import dev.patchwork.tokenizer.BpeTokenizer;
import dev.patchwork.util.Json;
import dev.patchwork.util.PatchworkException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code patchwork eval}: bits per byte of a model over data. */
@Command(name = "eval", mixinStandardHelpOptions = true, description = "Bits per byte of a byte LM or a BLT over data (a plain file is one document).",
        footer = {"", "A BLT (its config.json has dim_global) is patched as it was trained: its entropy_model/ and the patcher",
                "settings of train_args.json (data.patcher_args). --json then adds mean_patch_size and FLOPs per byte",
                "(flops_per_byte_inference, flops_per_byte_train) by the BLT paper's accounting.", "",
                "--noise applies one of the BLT paper's character-level noises (§6.1) to every document first, seeded by",
                "--noise-seed; bits per byte are then measured on the noised bytes (their count is what is divided by).", "",
                "Examples:", "  patchwork eval --model runs/tiny --data heldout.txt",
                "  patchwork eval --model runs/tiny --data docs/ --json",
                "  patchwork eval --model runs/blt --data heldout.txt --json",
                "  patchwork eval --model runs/tiny --data heldout.txt --noise random-case --noise-seed 7"})
final class EvalCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Run or model directory (config.json + model.safetensors).")
    Path model;
    @Option(names = "--data", required = true, paramLabel = "PATH", description = "File, directory, .zip, .gz or .jsonl.")
    Path data;
    @Option(names = "--dtype", defaultValue = "auto", paramLabel = "auto|f32|mapped",
            description = "Weights: auto keeps BF16/F16 matrices mapped from the checkpoint (no float32 copy), f32 widens everything, mapped also keeps F32 matrices mapped. Default: ${DEFAULT-VALUE}.")
    String dtype;

    @Option(names = "--json", description = "Print one JSON object instead of text.")
    boolean json;
    @Option(names = "--batch-size", defaultValue = "8")
    int batchSize;
    @Option(names = "--seq-len", description = "Window length: bytes for a byte LM, patches for a BLT (default: the model's max_seqlen).")
    Integer seqLen;
    @Option(names = "--zip-suffix", paramLabel = "SUFFIX", description = "Only entries ending with this (repeatable).")
    java.util.List<String> suffixes = new java.util.ArrayList<>();
    @Option(names = "--noise", paramLabel = "KIND", description = "Noise the text first: random-case, drop, repeat, uppercase or antspeak.")
    String noise;
    @Option(names = "--noise-seed", defaultValue = "0", paramLabel = "N", description = "Seed of the noise (default: ${DEFAULT-VALUE}).")
    long noiseSeed;

    @Override
    public Integer call() throws Exception {
        if (!Files.exists(data)) throw new PatchworkException("data not found: " + data);
        CorpusOptions options = suffixes.isEmpty() ? CorpusOptions.ALL : CorpusOptions.including(suffixes.toArray(String[]::new));
        CorpusSource clean = CorpusSource.of(data, options);
        try (NoisedCorpus noised = noise == null ? null : NoisedCorpus.temporary(clean, Noise.parse(noise), noiseSeed)) {
            return evaluate(noised == null ? clean : noised.source());
        }
    }

    private int evaluate(CorpusSource source) throws Exception {
        ModelDirectory.Kind kind = ModelDirectory.kindOf(model);
        if (kind == ModelDirectory.Kind.BLT) return evaluateBlt(source);
        if (Files.isRegularFile(ModelDirectory.resolve(model).resolve(BpeTokenizer.FILE_NAME))) return evaluateTokenLm(source);
        if (kind == ModelDirectory.Kind.MEGABYTE) return evaluateMegabyte(source);
        ByteLm m = ByteLmCheckpoint.load(model, WeightStorage.parse(dtype));
        int T = windowLength(m.config().maxSeqlen());
        announce("");
        ByteLmEvaluator.Result r = new ByteLmEvaluator(m, batchSize, T).evaluate(source);
        double flops = FlopAccounting.byteLmPerByte(m.config(), T);
        if (json) {
            Map<String, Object> o = jsonHead("byte_lm", r.bitsPerByte(), r.lossNats(), r.bytes(), r.targets());
            o.put("documents", r.documents());
            o.put("seq_len", T);
            printJson(o, flops, FlopAccounting.train(flops), r.seconds());
        } else {
            System.out.printf("%s (%,d predictions incl. EOS), %.1fs%n",
                    textHead(r.bitsPerByte(), r.lossNats(), r.bytes(), r.documents()), r.targets(), r.seconds());
        }
        return 0;
    }

    /** A BPE baseline (its checkpoint has tokenizer.json): bits per byte over the bytes its tokens cover. */
    private int evaluateTokenLm(CorpusSource source) throws Exception {
        ByteLm m = ByteLmCheckpoint.load(model);
        BpeTokenizer tok = BpeTokenizer.load(ModelDirectory.resolve(model).resolve(BpeTokenizer.FILE_NAME));
        int T = windowLength(m.config().maxSeqlen());
        announce("; BPE vocabulary " + tok.vocabSize());
        TokenLmEvaluator.Result r = new TokenLmEvaluator(m, tok, batchSize, T).evaluate(source);
        double flops = FlopAccounting.bpePerByte(m.config().dim(), m.config().nLayers(), m.config().vocabSize(),
                T * r.bytesPerToken(), r.bytesPerToken());
        if (json) {
            Map<String, Object> o = jsonHead("bpe_lm", r.bitsPerByte(), r.lossNats(), r.bytes(), r.tokens());
            o.put("bytes_per_token", r.bytesPerToken());
            o.put("documents", r.documents());
            o.put("seq_len", T);
            printJson(o, flops, FlopAccounting.train(flops), r.seconds());
        } else {
            System.out.printf("%s (%,d tokens incl. EOS, %.3f bytes/token), %.1fs%n",
                    textHead(r.bitsPerByte(), r.lossNats(), r.bytes(), r.documents()), r.tokens(), r.bytesPerToken(), r.seconds());
        }
        return 0;
    }

    /** A BLT: entropies and patches per document as the run was trained with, then windows of whole patches. */
    private int evaluateBlt(CorpusSource source) throws Exception {
        Blt m = BltCheckpoint.load(model, WeightStorage.parse(dtype));
        PatcherConfig patcher = PatcherConfig.fromJson(BltCheckpoint.patcherArgs(model), model + " (patcher args)");
        EntropyModel entropy = BltCheckpoint.entropyModel(model).map(d -> EntropyModel.load(d, WeightStorage.parse(dtype))).orElse(null);
        int P = windowLength(m.config().maxSeqlen());
        announce("; patching: " + patcher.build().describe());
        BltEvaluator.Result r = new BltEvaluator(m, entropy, patcher.build(), batchSize, P).evaluate(source);
        if (json) {
            Map<String, Object> o = jsonHead("blt", r.bitsPerByte(), r.lossNats(), r.bytes(), r.targets());
            o.put("documents", r.documents());
            o.put("windows", r.windows());
            o.put("patches", r.patches());
            o.put("mean_patch_size", r.meanPatchSize());
            o.put("context_bytes", r.meanContextBytes());
            printJson(o, r.flopsPerByteInference(), r.flopsPerByteTrain(), r.seconds());
        } else {
            System.out.printf("%s (%,d predictions incl. EOS, %,d windows), %.1fs%n",
                    textHead(r.bitsPerByte(), r.lossNats(), r.bytes(), r.documents()), r.targets(), r.windows(), r.seconds());
            System.out.printf("patches: %,d, mean patch size %.3f; FLOPs/byte (BLT paper accounting, context %.0f bytes): inference %.4g, training %.4g%n",
                    r.patches(), r.meanPatchSize(), r.meanContextBytes(), r.flopsPerByteInference(), r.flopsPerByteTrain());
        }
        return 0;
    }

    /** MEGABYTE: windows of whole patches of the document's ids; FLOPs per byte by the BLT paper's accounting. */
    private int evaluateMegabyte(CorpusSource source) throws Exception {
        Megabyte m = ModelDirectory.of(model).loadMegabyte();
        int T = windowLength(m.config().maxSeqlen());
        announce("");
        MegabyteEvaluator.Result r = new MegabyteEvaluator(m, batchSize, T).evaluate(source);
        double flops = FlopAccounting.megabytePerByte(m.config(), T);
        if (json) {
            Map<String, Object> o = jsonHead("megabyte", r.bitsPerByte(), r.lossNats(), r.bytes(), r.targets());
            o.put("documents", r.documents());
            o.put("seq_len", T);
            o.put("patch_size", m.config().patchSize());
            printJson(o, flops, FlopAccounting.train(flops), r.seconds());
        } else {
            System.out.printf("%s (%,d predictions incl. EOS), %.1fs; FLOPs/byte (context %d): inference %.4g%n",
                    textHead(r.bitsPerByte(), r.lossNats(), r.bytes(), r.documents()), r.targets(), r.seconds(), T, flops);
        }
        return 0;
    }

    /** The window length: --seq-len, else the model's own. */
    private int windowLength(int modelMaxSeqlen) {
        return seqLen != null ? seqLen : modelMaxSeqlen;
    }

    /** Says on stderr (text output only) which kernels run, and what else the kind wants to tell. */
    private void announce(String detail) {
        if (!json) System.err.println("patchwork eval: " + Simd.describe() + detail);
    }

    /** The fields every kind's JSON starts with, in order; each kind then adds its own. */
    private Map<String, Object> jsonHead(String kind, double bitsPerByte, double lossNats, long bytes, long predictedTokens) {
        Map<String, Object> o = new LinkedHashMap<>();
        o.put("model", kind);
        if (noise != null) o.put("noise", Noise.parse(noise).name());
        o.put("bits_per_byte", bitsPerByte);
        o.put("loss_nats", lossNats);
        o.put("bytes", bytes);
        o.put("predicted_tokens", predictedTokens);
        return o;
    }

    /** How every kind's text line starts; each kind then adds its own counts in brackets. */
    private String textHead(double bitsPerByte, double lossNats, long bytes, long documents) {
        return String.format("%s: %.4f bits/byte (%.4f nats) over %,d bytes in %,d documents", label(), bitsPerByte, lossNats, bytes, documents);
    }

    /** The data, and the noise when there is one. */
    private String label() {
        return noise == null ? data.toString() : data + " (noise " + Noise.parse(noise) + ", seed " + noiseSeed + ")";
    }

    /** Adds the fields every kind's JSON ends with (FLOPs per byte, wall time) and prints it on one line. */
    private static void printJson(Map<String, Object> o, double flopsInference, double flopsTrain, double seconds) throws Exception {
        o.put("flops_per_byte_inference", flopsInference);
        o.put("flops_per_byte_train", flopsTrain);
        o.put("seconds", seconds);
        System.out.println(Json.MAPPER.writer().without(com.fasterxml.jackson.databind.SerializationFeature.INDENT_OUTPUT).writeValueAsString(o));
    }
}

package dev.patchwork.cli;

import dev.patchwork.io.WeightStorage;
import dev.patchwork.data.CorpusOptions;
import dev.patchwork.data.CorpusSource;
import dev.patchwork.eval.BltEvaluator;
import dev.patchwork.eval.ByteLmEvaluator;
import dev.patchwork.eval.FlopAccounting;
import dev.patchwork.model.Blt;
import dev.patchwork.model.BltCheckpoint;
import dev.patchwork.model.ByteLm;
import dev.patchwork.model.ByteLmCheckpoint;
import dev.patchwork.model.ModelDirectory;
import dev.patchwork.patch.EntropyModel;
import dev.patchwork.patch.PatcherConfig;
import dev.patchwork.tensor.Simd;
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
                "Examples:", "  patchwork eval --model runs/tiny --data heldout.txt",
                "  patchwork eval --model runs/tiny --data docs/ --json",
                "  patchwork eval --model runs/blt --data heldout.txt --json"})
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

    @Override
    public Integer call() throws Exception {
        if (!Files.exists(data)) throw new PatchworkException("data not found: " + data);
        CorpusOptions options = suffixes.isEmpty() ? CorpusOptions.ALL : CorpusOptions.including(suffixes.toArray(String[]::new));
        CorpusSource source = CorpusSource.of(data, options);
        if (ModelDirectory.kindOf(model) == ModelDirectory.Kind.BLT) return evaluateBlt(source);
        ByteLm m = ByteLmCheckpoint.load(model, WeightStorage.parse(dtype));
        int T = seqLen != null ? seqLen : m.config().maxSeqlen();
        if (!json) System.err.println("patchwork eval: " + Simd.describe());
        ByteLmEvaluator.Result r = new ByteLmEvaluator(m, batchSize, T).evaluate(source);
        double flops = FlopAccounting.byteLmPerByte(m.config(), T);
        if (json) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("model", "byte_lm");
            o.put("bits_per_byte", r.bitsPerByte());
            o.put("loss_nats", r.lossNats());
            o.put("bytes", r.bytes());
            o.put("predicted_tokens", r.targets());
            o.put("documents", r.documents());
            o.put("seq_len", T);
            o.put("flops_per_byte_inference", flops);
            o.put("flops_per_byte_train", FlopAccounting.train(flops));
            o.put("seconds", r.seconds());
            printJson(o);
        } else {
            System.out.printf("%s: %.4f bits/byte (%.4f nats) over %,d bytes in %,d documents (%,d predictions incl. EOS), %.1fs%n",
                    data, r.bitsPerByte(), r.lossNats(), r.bytes(), r.documents(), r.targets(), r.seconds());
        }
        return 0;
    }

    /** A BLT: entropies and patches per document as the run was trained with, then windows of whole patches. */
    private int evaluateBlt(CorpusSource source) throws Exception {
        Blt m = BltCheckpoint.load(model, WeightStorage.parse(dtype));
        PatcherConfig patcher = PatcherConfig.fromJson(BltCheckpoint.patcherArgs(model), model + " (patcher args)");
        EntropyModel entropy = BltCheckpoint.entropyModel(model).map(d -> EntropyModel.load(d, WeightStorage.parse(dtype))).orElse(null);
        int P = seqLen != null ? seqLen : m.config().maxSeqlen();
        if (!json) System.err.println("patchwork eval: " + Simd.describe() + "; patching: " + patcher.build().describe());
        BltEvaluator.Result r = new BltEvaluator(m, entropy, patcher.build(), batchSize, P).evaluate(source);
        if (json) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("model", "blt");
            o.put("bits_per_byte", r.bitsPerByte());
            o.put("loss_nats", r.lossNats());
            o.put("bytes", r.bytes());
            o.put("predicted_tokens", r.targets());
            o.put("documents", r.documents());
            o.put("windows", r.windows());
            o.put("patches", r.patches());
            o.put("mean_patch_size", r.meanPatchSize());
            o.put("context_bytes", r.meanContextBytes());
            o.put("flops_per_byte_inference", r.flopsPerByteInference());
            o.put("flops_per_byte_train", r.flopsPerByteTrain());
            o.put("seconds", r.seconds());
            printJson(o);
        } else {
            System.out.printf("%s: %.4f bits/byte (%.4f nats) over %,d bytes in %,d documents (%,d predictions incl. EOS, %,d windows), %.1fs%n",
                    data, r.bitsPerByte(), r.lossNats(), r.bytes(), r.documents(), r.targets(), r.windows(), r.seconds());
            System.out.printf("patches: %,d, mean patch size %.3f; FLOPs/byte (BLT paper accounting, context %.0f bytes): inference %.4g, training %.4g%n",
                    r.patches(), r.meanPatchSize(), r.meanContextBytes(), r.flopsPerByteInference(), r.flopsPerByteTrain());
        }
        return 0;
    }

    private static void printJson(Map<String, Object> o) throws Exception {
        System.out.println(Json.MAPPER.writer().without(com.fasterxml.jackson.databind.SerializationFeature.INDENT_OUTPUT).writeValueAsString(o));
    }
}

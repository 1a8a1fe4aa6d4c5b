package dev.patchwork.cli;

import dev.patchwork.data.CorpusOptions;
import dev.patchwork.data.CorpusSource;
import dev.patchwork.eval.ByteLmEvaluator;
import dev.patchwork.model.ByteLm;
import dev.patchwork.model.ByteLmCheckpoint;
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
@Command(name = "eval", mixinStandardHelpOptions = true, description = "Bits per byte of a model over data (a plain file is one document).",
        footer = {"", "Examples:", "  patchwork eval --model runs/tiny --data heldout.txt",
                "  patchwork eval --model runs/tiny --data docs/ --json"})
final class EvalCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Run or model directory (config.json + model.safetensors).")
    Path model;
    @Option(names = "--data", required = true, paramLabel = "PATH", description = "File, directory, .zip, .gz or .jsonl.")
    Path data;
    @Option(names = "--json", description = "Print one JSON object instead of text.")
    boolean json;
    @Option(names = "--batch-size", defaultValue = "8")
    int batchSize;
    @Option(names = "--seq-len", description = "Window length (default: the model's max_seqlen).")
    Integer seqLen;
    @Option(names = "--zip-suffix", paramLabel = "SUFFIX", description = "Only entries ending with this (repeatable).")
    java.util.List<String> suffixes = new java.util.ArrayList<>();

    @Override
    public Integer call() throws Exception {
        if (!Files.exists(data)) throw new PatchworkException("data not found: " + data);
        ByteLm m = ByteLmCheckpoint.load(model);
        int T = seqLen != null ? seqLen : m.config().maxSeqlen();
        if (!json) System.err.println("patchwork eval: " + Simd.describe());
        CorpusOptions options = suffixes.isEmpty() ? CorpusOptions.ALL : CorpusOptions.including(suffixes.toArray(String[]::new));
        ByteLmEvaluator.Result r = new ByteLmEvaluator(m, batchSize, T).evaluate(CorpusSource.of(data, options));
        if (json) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("bits_per_byte", r.bitsPerByte());
            o.put("loss_nats", r.lossNats());
            o.put("bytes", r.bytes());
            o.put("predicted_tokens", r.targets());
            o.put("documents", r.documents());
            o.put("seq_len", T);
            o.put("seconds", r.seconds());
            System.out.println(Json.MAPPER.writer().without(com.fasterxml.jackson.databind.SerializationFeature.INDENT_OUTPUT).writeValueAsString(o));
        } else {
            System.out.printf("%s: %.4f bits/byte (%.4f nats) over %,d bytes in %,d documents (%,d predictions incl. EOS), %.1fs%n",
                    data, r.bitsPerByte(), r.lossNats(), r.bytes(), r.documents(), r.targets(), r.seconds());
        }
        return 0;
    }
}

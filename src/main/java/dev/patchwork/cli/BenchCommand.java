package dev.patchwork.cli;

import dev.patchwork.bench.KernelBench;
import dev.patchwork.bench.TrainBench;
import dev.patchwork.model.ByteLmConfig;
import dev.patchwork.tensor.Simd;
import dev.patchwork.util.Json;
import dev.patchwork.util.PatchworkException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code patchwork bench}: speed measurements with machine-readable output. */
@Command(name = "bench", mixinStandardHelpOptions = true, description = "Benchmarks (GFLOP/s, bytes/s, MFU); --json for machine-readable output.",
        subcommands = {BenchCommand.Kernels.class, BenchCommand.Train.class, BenchCommand.Generate.class})
final class BenchCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    static void print(Map<String, Object> result, boolean json) throws Exception {
        if (json) {
            System.out.println(Json.MAPPER.writer().without(com.fasterxml.jackson.databind.SerializationFeature.INDENT_OUTPUT)
                    .writeValueAsString(result));
        } else {
            System.out.println(Json.write(result));
        }
    }

    @Command(name = "kernels", mixinStandardHelpOptions = true, description = "GFLOP/s of the three matmul forms against the machine's FMA peak.",
            footer = {"", "Example:", "  patchwork bench kernels --json"})
    static final class Kernels implements Callable<Integer> {
        @Option(names = "--json") boolean json;
        @Option(names = "--quick", description = "Fewer repetitions (noisier).") boolean quick;

        @Override
        public Integer call() throws Exception {
            if (!json) System.err.println("patchwork bench kernels: " + Simd.describe());
            print(KernelBench.run(quick), json);
            return 0;
        }
    }

    @Command(name = "train", mixinStandardHelpOptions = true, description = "Bytes/s, model FLOP/s and MFU of full training steps of a byte LM.",
            footer = {"", "Example:", "  patchwork bench train --config configs/bytelm-nanogpt.json --batch-size 12 --json"})
    static final class Train implements Callable<Integer> {
        @Option(names = "--config", required = true) Path config;
        @Option(names = "--batch-size", defaultValue = "12") int batch;
        @Option(names = "--seq-len", description = "Default: the model's max_seqlen.") Integer seqLen;
        @Option(names = "--steps", defaultValue = "30") int steps;
        @Option(names = "--warmup-steps", defaultValue = "10") int warmup;
        @Option(names = "--json") boolean json;

        @Override
        public Integer call() throws Exception {
            var root = Json.readTree(config);
            ByteLmConfig c = ByteLmConfig.fromJson(root.has("model") ? root.get("model") : root, config.toString());
            if (steps < 1 || warmup < 0 || batch < 1) throw new PatchworkException("--steps and --batch-size must be >= 1, --warmup-steps >= 0");
            int T = seqLen != null ? seqLen : c.maxSeqlen();
            if (T > c.maxSeqlen()) throw new PatchworkException("--seq-len " + T + " exceeds max_seqlen " + c.maxSeqlen());
            dev.patchwork.train.ByteLmTrainer.checkFits(c, batch, T);
            if (!json) System.err.println("patchwork bench train: " + Simd.describe());
            print(TrainBench.run(c, batch, T, warmup, steps), json);
            return 0;
        }
    }

    @Command(name = "generate", mixinStandardHelpOptions = true,
            description = "BLT generation: bytes/s, global steps per byte, time per part (entropy model, encoder, global, decoder).",
            footer = {"", "Examples:", "  patchwork bench generate --model runs/blt --bytes 256 --json",
                    "  patchwork bench generate --model runs/blt --no-cache",
                    "  patchwork bench generate --config blt.json --patch-size 4.5 --baseline   # random weights, and a byte LM as wide as the global model"})
    static final class Generate implements Callable<Integer> {
        @Option(names = "--model", paramLabel = "DIR", description = "A BLT run or hub directory.") Path model;
        @Option(names = "--config", paramLabel = "FILE", description = "Instead of --model: a BLT config, random weights.") Path config;
        @Option(names = "--patch-size", defaultValue = "4.5", description = "With --config: target mean patch size of the random entropy model's threshold.") double patchSize;
        @Option(names = "--bytes", defaultValue = "256") int bytes;
        @Option(names = "--no-cache", description = "Time the reference's no-cache procedure instead.") boolean noCache;
        @Option(names = "--baseline", description = "Also time a byte LM as wide and deep as the global model.") boolean baseline;
        @Option(names = "--prompt", defaultValue = dev.patchwork.bench.BltGenerateBench.PROMPT) String prompt;
        @Option(names = "--warmup-seconds", defaultValue = "3", description = "Untimed runs first, for this long (default: ${DEFAULT-VALUE}).") double warmup;
        @Option(names = "--json") boolean json;

        @Override
        public Integer call() throws Exception {
            if ((model == null) == (config == null)) throw new PatchworkException("give either --model DIR or --config FILE");
            if (bytes < 1) throw new PatchworkException("--bytes must be >= 1, got " + bytes);
            if (!(warmup >= 0)) throw new PatchworkException("--warmup-seconds must be >= 0, got " + warmup);
            var bundle = model != null ? dev.patchwork.generate.BltBundle.load(dev.patchwork.model.ModelDirectory.of(model), null)
                    : dev.patchwork.bench.BltGenerateBench.randomBundle(dev.patchwork.model.BltConfig.read(config), patchSize);
            if (!json) System.err.println("patchwork bench generate: " + Simd.describe());
            Map<String, Object> result = new java.util.LinkedHashMap<>(dev.patchwork.bench.BltGenerateBench.run(bundle, bytes, !noCache, prompt, warmup));
            if (baseline) {
                Map<String, Object> b = dev.patchwork.bench.BltGenerateBench.byteLmBaseline(bundle.model().config(), bytes, prompt, warmup);
                result.put("byte_lm_baseline", b);
                result.put("speedup_over_byte_lm", (double) result.get("bytes_per_s") / (double) b.get("bytes_per_s"));
            }
            print(result, json);
            return 0;
        }
    }
}

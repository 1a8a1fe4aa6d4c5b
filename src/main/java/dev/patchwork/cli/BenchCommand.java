package dev.patchwork.cli;

import dev.patchwork.bench.BltTrainBench;
import dev.patchwork.bench.EntropyBench;
import dev.patchwork.bench.KernelBench;
import dev.patchwork.bench.SystemBlas;
import dev.patchwork.bench.TrainBench;
import dev.patchwork.model.BltConfig;
import dev.patchwork.model.ByteLmConfig;
import dev.patchwork.tensor.Simd;
import dev.patchwork.train.BltTrainConfig;
import dev.patchwork.util.Json;
import dev.patchwork.util.PatchworkException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code patchwork bench}: speed measurements with machine-readable output. */
@Command(name = "bench", mixinStandardHelpOptions = true, description = "Benchmarks (GFLOP/s, bytes/s, MFU); --json for machine-readable output.",
        subcommands = {BenchCommand.Kernels.class, BenchCommand.Train.class, BenchCommand.Entropy.class, BenchCommand.Generate.class, BenchCommand.Load.class, BenchCommand.Serve.class})
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
            footer = {"", "--compare-blas also times a system BLAS's cblas_sgemm (OpenBLAS: libopenblas.so.0, libopenblas.so,",
                    "libblas.so.3, or --blas-lib PATH) on the same shapes and prints ours/BLAS; without one it says so and goes on.",
                    "", "Examples:", "  patchwork bench kernels --json", "  patchwork bench kernels --compare-blas"})
    static final class Kernels implements Callable<Integer> {
        @Option(names = "--json") boolean json;
        @Option(names = "--quick", description = "Fewer repetitions (noisier).") boolean quick;
        @Option(names = "--compare-blas", description = "Also time cblas_sgemm of a system BLAS, in the same run.") boolean compareBlas;
        @Option(names = "--blas-lib", paramLabel = "PATH", description = "The BLAS library to compare with (implies --compare-blas).") Path blasLib;

        @Override
        public Integer call() throws Exception {
            if (!json) System.err.println("patchwork bench kernels: " + Simd.describe());
            SystemBlas.Lookup blas = compareBlas || blasLib != null ? SystemBlas.find(blasLib, dev.patchwork.tensor.Parallel.threads()) : null;
            if (blas != null) System.err.println("patchwork bench kernels: " + blas.message());
            Map<String, Object> result = KernelBench.run(quick, blas);
            if (json) print(result, true);
            else System.out.println(KernelBench.table(result));
            return 0;
        }
    }

    @Command(name = "train", mixinStandardHelpOptions = true, description = "Bytes/s, model FLOP/s and MFU of full training steps of a byte LM or a BLT.",
            footer = {"", "For a BLT config (its model has dim_global) --seq-len counts patches (default: the config's train.seq_len,",
                    "else max_seqlen), rows are random patches of mean size --patch-size (default: the config's patcher.patch_size,",
                    "else 4.5), and FLOPs follow the BLT paper's accounting.", "",
                    "Steps run as the trainers run them: one model replica per thread, each on a",
                    "share of the batch's rows (\"replicas\" in the JSON); with --profile the",
                    "layer times are those of replica 0's thread.", "",
                    "Examples:", "  patchwork bench train --config configs/bytelm-nanogpt.json --batch-size 12 --json",
                    "  patchwork bench train --config configs/bytelm-nanogpt.json --profile",
                    "  patchwork bench train --config configs/blt-tiny.json --json"})
    static final class Train implements Callable<Integer> {
        @Option(names = "--config", required = true) Path config;
        @Option(names = "--batch-size", description = "Default: 12 (byte LM); the config's train.batch_size, else 12 (BLT).") Integer batch;
        @Option(names = "--seq-len", description = "Default: the model's max_seqlen.") Integer seqLen;
        @Option(names = "--patch-size", description = "BLT: mean bytes per patch of the random rows.") Double patchSize;
        @Option(names = "--steps", defaultValue = "30", description = "Timed steps: at least this many, and for at "
                + "least 5 s (default: ${DEFAULT-VALUE}).") int steps;
        @Option(names = "--warmup-steps", defaultValue = "10", description = "Untimed steps first: at least this "
                + "many, and for at least 3 s so that the JIT has compiled every kernel (default: ${DEFAULT-VALUE}). "
                + "0: a quick check, no warm-up and exactly --steps timed steps.")
        int warmup;
        @Option(names = "--profile", description = "Then time --steps more steps per layer kind (embedding, attention, "
                + "feed-forward, norms, output and loss, optimizer; forward/backward).") boolean profile;
        @Option(names = "--json") boolean json;

        @Override
        public Integer call() throws Exception {
            var root = Json.readTree(config);
            if (steps < 1 || warmup < 0 || (batch != null && batch < 1))
                throw new PatchworkException("--steps and --batch-size must be >= 1, --warmup-steps >= 0");
            if (BltTrainConfig.isBlt(root)) return blt(root);
            ByteLmConfig c = ByteLmConfig.fromJson(root.has("model") ? root.get("model") : root, config.toString());
            int B = batch != null ? batch : 12;
            int T = seqLen != null ? seqLen : c.maxSeqlen();
            if (T > c.maxSeqlen()) throw new PatchworkException("--seq-len " + T + " exceeds max_seqlen " + c.maxSeqlen());
            dev.patchwork.train.ByteLmTrainer.checkFits(c, B, T);
            if (!json) System.err.println("patchwork bench train: " + Simd.describe());
            print(TrainBench.run(c, B, T, warmup, steps, profile), json);
            return 0;
        }

        private int blt(com.fasterxml.jackson.databind.JsonNode root) throws Exception {
            BltConfig c = BltConfig.fromJson(root.has("model") ? root.get("model") : root, config + " (model)");
            var train = root.path("train");
            int B = batch != null ? batch : train.path("batch_size").asInt(12);
            int P = seqLen != null ? seqLen : train.path("seq_len").asInt(c.maxSeqlen());
            double size = patchSize != null ? patchSize : root.path("patcher").path("patch_size").asDouble(4.5);
            if (P < 2 || P > c.maxSeqlen()) throw new PatchworkException("--seq-len (patches) must be in [2, max_seqlen = " + c.maxSeqlen() + "], got " + P);
            if (!(size >= 1)) throw new PatchworkException("--patch-size must be >= 1, got " + size);
            dev.patchwork.train.BltTrainer.checkFits(c, B, P, size);
            if (!json) System.err.println("patchwork bench train: " + Simd.describe());
            print(BltTrainBench.run(c, B, P, size, warmup, steps, profile), json);
            return 0;
        }
    }

    @Command(name = "entropy", mixinStandardHelpOptions = true, description = "Bytes/s of next-byte entropies over N MB of text (the JDK's Java sources, "
            + "or pseudo-text) with a 4-layer, dim-128 entropy model (the demo's: chunks of 64), random weights.",
            footer = {"", "Examples:", "  patchwork bench entropy", "  patchwork bench entropy --mb 2 --json",
                    "  patchwork bench entropy --reference-shape     # window 512, chunks of 8192",
                    "  patchwork bench entropy --config configs/bytelm-nanogpt.json"})
    static final class Entropy implements Callable<Integer> {
        @Option(names = "--mb", defaultValue = "" + EntropyBench.DEFAULT_MB, description = "Megabytes of text (default: ${DEFAULT-VALUE}).")
        double mb;
        @Option(names = "--config", description = "Model config to time instead (weights are random).") Path config;
        @Option(names = "--reference-shape", description = "Dim 128, 4 layers with the reference entropy model's "
                + "attention: sliding window 512, chunks of 8192.") boolean referenceShape;
        @Option(names = "--no-peak", description = "Skip the FMA peak probe (saves seconds; no mfu in the result).")
        boolean noPeak;
        @Option(names = "--json") boolean json;

        @Override
        public Integer call() throws Exception {
            if (!(mb > 0) || mb > 10_000) throw new PatchworkException("--mb must be > 0 and at most 10000, got " + mb);
            if (referenceShape && config != null) throw new PatchworkException("give --config or --reference-shape, not both");
            ByteLmConfig c = referenceShape ? EntropyBench.referenceShapedConfig() : EntropyBench.defaultConfig();
            if (config != null) {
                var root = Json.readTree(config);
                c = ByteLmConfig.fromJson(root.has("model") ? root.get("model") : root, config.toString());
            }
            if (!json) System.err.println("patchwork bench entropy: " + Simd.describe());
            print(EntropyBench.run(c, mb, !noPeak), json);
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

    @Command(name = "load", mixinStandardHelpOptions = true,
            description = "Load time and resident memory of a synthetic blt-1b (exact shapes, BF16, sparse file in a temporary directory).")
    static final class Load implements Callable<Integer> {
        @Option(names = "--json") boolean json;

        @Override
        public Integer call() throws Exception {
            print(dev.patchwork.bench.LoadBench.run(), json);
            return 0;
        }
    }

    @Command(name = "serve", mixinStandardHelpOptions = true,
            description = "Latency of the HTTP server: time to the first streamed event of a completion, on loopback.",
            footer = {"", "Example:", "  patchwork bench serve --model runs/blt --requests 11 --json"})
    static final class Serve implements Callable<Integer> {
        @Option(names = "--model", required = true, paramLabel = "DIR") Path model;
        @Option(names = "--requests", defaultValue = "11", description = "Sequential streamed requests; the first warms up.") int requests;
        @Option(names = "--max-tokens", defaultValue = "64") int maxTokens;
        @Option(names = "--json") boolean json;

        @Override
        public Integer call() throws Exception {
            if (requests < 2) throw new PatchworkException("--requests must be >= 2 (the first one warms up)");
            if (maxTokens < 1) throw new PatchworkException("--max-tokens must be >= 1");
            if (!json) System.err.println("patchwork bench serve: " + Simd.describe());
            print(dev.patchwork.bench.ServeLatencyBench.run(model, requests, maxTokens), json);
            return 0;
        }
    }
}

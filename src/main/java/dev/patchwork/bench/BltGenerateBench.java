package dev.patchwork.bench;

import dev.patchwork.generate.BltBundle;
import dev.patchwork.generate.BltGeneration;
import dev.patchwork.generate.ByteLmGenerator;
import dev.patchwork.generate.SamplingOptions;
import dev.patchwork.model.Blt;
import dev.patchwork.model.BltConfig;
import dev.patchwork.model.ByteLm;
import dev.patchwork.model.ByteLmConfig;
import dev.patchwork.patch.EntropyModel;
import dev.patchwork.patch.PatcherConfig;
import dev.patchwork.tensor.Parallel;
import dev.patchwork.tensor.Simd;
import dev.patchwork.util.Json;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Times BLT generation: greedy, never stopping at EOS, from a fixed prompt, after untimed runs of the same length for
 * a few seconds (so the JIT has compiled the kernels: the per-byte steps of a small model call small kernels thousands
 * of times before they run at full speed, and a short warm-up understates the speed several times). Reports bytes/s, the global model's steps per byte, the mean patch size, and the time of
 * each part (entropy model, local encoder, global model, local decoder, sampling). The global model of the incremental
 * generator runs once per patch, so its steps per byte are about 1 / mean patch size; the no-cache generator runs it
 * on every patch of the context at every byte.
 */
public final class BltGenerateBench {
    /** The prompt every run continues (English, so a trained model's entropies look like the usual text's). */
    public static final String PROMPT = "The Byte Latent Transformer reads bytes and groups them into patches: ";
    private BltGenerateBench() {}

    /**
     * Generates {@code bytes} ids with the incremental ({@code cache}) or the no-cache generator, after untimed runs
     * for {@code warmupSeconds}.
     */
    public static Map<String, Object> run(BltBundle bundle, int bytes, boolean cache, String prompt, double warmupSeconds) {
        if (bytes < 1) throw new IllegalArgumentException("bytes must be >= 1, got " + bytes);
        BltGeneration g = bundle.generator(cache);
        byte[] p = prompt.getBytes(StandardCharsets.UTF_8);
        int maxPrompt = Math.max(BltGeneration.REFERENCE_MAX_PROMPT_IDS, p.length + 1);
        var settings = new BltGeneration.Settings(bytes, false, SamplingOptions.greedy(), maxPrompt);
        warmUp(warmupSeconds, () -> g.generate(p, settings, BltGeneration.Listener.NONE));
        BltGeneration.Result r = g.generate(p, settings, BltGeneration.Listener.NONE);
        BltGeneration.Stats s = r.stats();

        Map<String, Object> m = new LinkedHashMap<>();
        m.put("benchmark", "generate");
        m.put("kernels", Simd.SCALAR ? "scalar" : "vector" + Simd.F.vectorBitSize());
        m.put("threads", Parallel.threads());
        m.put("model", describe(bundle.model().config(), bundle.model().layout().parameterCount()));
        m.put("entropy_model_parameters", bundle.entropyModel() == null ? 0 : bundle.entropyModel().model().layout().parameterCount());
        m.put("patching", bundle.patching().build().describe());
        m.put("patching_source", bundle.patchingSource());
        m.put("generator", cache ? "incremental (KV caches)" : "no-cache (reference procedure)");
        m.put("prompt_ids", s.promptIds());
        m.put("bytes", s.generated());
        m.put("seconds", s.totalNanos() / 1e9);
        m.put("prompt_seconds", s.promptNanos() / 1e9);
        m.put("bytes_per_s", s.bytesPerSecond());
        m.put("global_steps_per_byte", s.globalStepsPerByte());
        m.put("mean_patch_size", s.meanPatchSize());
        m.put("prompt_global_steps", s.promptGlobalSteps());
        Map<String, Object> parts = new LinkedHashMap<>();
        Map<String, Long> nanos = new LinkedHashMap<>(s.partNanos());
        // the rest: patch rule, bookkeeping, and whatever the clock saw between the timed parts (GC, scheduling)
        nanos.put("other", Math.max(0, s.totalNanos() - nanos.values().stream().mapToLong(Long::longValue).sum()));
        nanos.forEach((part, n) -> parts.put(part, Map.of("seconds", n / 1e9, "fraction", (double) n / s.totalNanos())));
        m.put("parts", parts);
        return m;
    }

    /** Runs {@code work} until {@code seconds} have passed (not at all for 0). */
    private static void warmUp(double seconds, Runnable work) {
        long end = System.nanoTime() + (long) (seconds * 1e9);
        while (System.nanoTime() < end) work.run();
    }

    static Map<String, Object> describe(BltConfig c, long parameters) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("parameters", parameters);
        m.put("dim_global", c.dimGlobal());
        m.put("n_layers_global", c.nLayersGlobal());
        m.put("dim_local", c.dimLocalEncoder());
        m.put("n_layers_local_encoder", c.nLayersLocalEncoder());
        m.put("n_layers_local_decoder", c.nLayersLocalDecoder());
        m.put("cross_attn_k", c.crossAttnK());
        m.put("hash_tables", c.hashTables());
        return m;
    }

    /**
     * A BLT with random weights (speed does not depend on them) and a random entropy model ({@link
     * EntropyBench#defaultConfig()}: 4 layers of width 128, window 512) whose threshold is set so that random bytes
     * give patches of about {@code patchSize} positions on average.
     */
    public static BltBundle randomBundle(BltConfig config, double patchSize) {
        if (!(patchSize >= 1)) throw new IllegalArgumentException("patch size must be >= 1, got " + patchSize);
        Blt model = Blt.initialise(config);
        EntropyModel entropy = new EntropyModel(ByteLm.initialise(EntropyBench.defaultConfig()));
        int[] ids = new int[4096];
        SplittableRandom r = new SplittableRandom(1);
        ids[0] = 1;
        for (int i = 1; i < ids.length; i++) ids[i] = 4 + r.nextInt(256);
        float[] h = entropy.entropies(ids);
        Arrays.sort(h);
        double threshold = h[(int) Math.min(h.length - 1, Math.round((1 - 1 / patchSize) * h.length))];
        return new BltBundle(model, entropy, PatcherConfig.entropy(threshold),
                "random entropy model, threshold at the " + (1 - 1 / patchSize) + " quantile of its entropies on random bytes");
    }

    /**
     * The baseline: a byte LM as wide and deep as the BLT's global model (random weights), generating the same
     * number of bytes with its KV cache.
     */
    public static Map<String, Object> byteLmBaseline(BltConfig c, int bytes, String prompt, double warmupSeconds) {
        byte[] p = prompt.getBytes(StandardCharsets.UTF_8);
        var json = Json.MAPPER.createObjectNode().put("dim", c.dimGlobal()).put("n_layers", c.nLayersGlobal())
                .put("n_heads", c.nHeadsGlobal()).put("multiple_of", c.multipleOf()).put("max_seqlen", p.length + 1 + bytes)
                .put("seed", 1);
        ByteLmConfig config = ByteLmConfig.fromJson(json, "byte LM baseline");
        ByteLmGenerator g = new ByteLmGenerator(ByteLm.initialise(config));
        warmUp(warmupSeconds, () -> g.generate(p, bytes, false, SamplingOptions.greedy(), b -> true));
        long t0 = System.nanoTime();
        ByteLmGenerator.Result r = g.generate(p, bytes, false, SamplingOptions.greedy(), b -> true);
        double seconds = (System.nanoTime() - t0) / 1e9;
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("model", Map.of("dim", config.dim(), "n_layers", config.nLayers(), "n_heads", config.heads(),
                "parameters", ByteLm.layoutOf(config).parameterCount()));
        m.put("bytes", r.steps());
        m.put("seconds", seconds);
        m.put("bytes_per_s", r.steps() / seconds);
        return m;
    }
}

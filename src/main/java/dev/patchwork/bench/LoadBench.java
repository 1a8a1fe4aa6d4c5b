package dev.patchwork.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.patchwork.io.Checkpoint;
import dev.patchwork.io.Dtype;
import dev.patchwork.io.HfNames;
import dev.patchwork.io.HfTensorSource;
import dev.patchwork.io.SafetensorsFile;
import dev.patchwork.io.SparseSafetensors;
import dev.patchwork.io.TensorEntry;
import dev.patchwork.io.WeightStorage;
import dev.patchwork.generate.BltGeneration;
import dev.patchwork.generate.BltGenerator;
import dev.patchwork.generate.ByteLmGenerator;
import dev.patchwork.generate.SamplingOptions;
import dev.patchwork.model.Blt;
import dev.patchwork.model.BltConfig;
import dev.patchwork.model.ByteLm;
import dev.patchwork.model.ByteLmConfig;
import dev.patchwork.model.HfLayout;
import dev.patchwork.model.ModelDirectory;
import dev.patchwork.patch.EntropyModel;
import dev.patchwork.patch.PatcherConfig;
import dev.patchwork.tensor.ParameterLayout;
import dev.patchwork.util.Json;
import dev.patchwork.util.PatchworkException;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code patchwork bench load}: a synthetic blt-1b (spec §2: exact shapes, BF16, Hugging Face layout with the fused
 * 3.07e9-value hash table and the entropy model at {@code model.patcher.*}) written as a sparse file, then opened
 * through {@link ModelDirectory} the way eval and generate open a model. Reports what is mapped in place and what is
 * copied, with times and resident memory (VmRSS).
 *
 * <p>The BLT and its entropy model are then loaded as eval and generate load them ({@link WeightStorage#AUTO}): every
 * BF16 matrix, the 3.07e9-value hash tables included, stays in the mapped file and is read in place by the BF16
 * kernels; only norm weights are widened (the float32 copy would be 18 GB). A few greedy bytes are generated and timed:
 * the first one pages the weights in, the later ones show the steady per-byte cost.
 */
public final class LoadBench {
    /** Bytes generated after the prompt: the first is cold (page faults), the rest give the steady time per byte. */
    static final int GENERATED_BYTES = 6;

    /** Bytes the entropy model generates per timing. */
    static final int LM_BYTES = 32;

    private LoadBench() {}

    /** The reference's blt-1b arguments (spec §2), the fields that shape the model and its patching. */
    public static ObjectNode blt1bArgs() {
        ObjectNode a = Json.MAPPER.createObjectNode();
        a.put("dim", 2048).put("dim_global", 2048).put("dim_local_encoder", 1024).put("dim_local_decoder", 1024);
        a.put("n_layers", 25).put("n_layers_global", 25).put("n_layers_local_encoder", 1).put("n_layers_local_decoder", 9);
        a.put("n_heads", 16).put("n_heads_global", 16).put("n_heads_local_encoder", 16).put("n_heads_local_decoder", 16);
        a.put("cross_attn_encoder", true).put("cross_attn_decoder", true).put("cross_attn_k", 2).put("cross_attn_nheads", 16);
        a.put("cross_attn_all_layers_encoder", false).put("cross_attn_all_layers_decoder", true).put("cross_attn_init_by_pooling", true);
        a.put("downsampling_by_pooling", "max");
        a.putArray("encoder_hash_byte_group_size").add(3).add(4).add(5).add(6).add(7).add(8);
        a.put("encoder_hash_byte_group_nb_functions", 1).put("encoder_hash_byte_group_vocab", 500002);
        a.put("local_attention_window_len", 512).put("rope_theta", 500000.0).put("max_seqlen", 4096).put("max_encoder_seq_length", 24576);
        a.put("multiple_of", 256).put("ffn_dim_multiplier", 1.0).put("norm_eps", 1e-5).put("vocab_size", 260).put("eos_id", 2);
        a.put("attn_bias_type", "block_causal").put("patching_mode", "entropy").put("patching_threshold", 1.335442066192627);
        a.put("monotonicity", false).put("use_local_encoder_transformer", true);
        return a;
    }

    /** The released entropy model's arguments (spec §2). */
    public static ObjectNode entropyArgs() {
        ObjectNode a = Json.MAPPER.createObjectNode();
        a.put("dim", 768).put("n_layers", 14).put("n_heads", 12).put("multiple_of", 256).put("ffn_dim_multiplier", 1.0);
        a.put("sliding_window", 512).put("max_seqlen", 8192).put("rope_theta", 10000.0).put("norm_eps", 1e-5).put("vocab_size", 260);
        return a;
    }

    /** Writes the HF-layout directory: config.json and a sparse BF16 model.safetensors; returns the file's length. */
    public static long writeSynthetic(Path dir, ObjectNode args, ObjectNode entropy) throws IOException {
        BltConfig config = BltConfig.fromJson(args, "blt-1b args");
        List<SparseSafetensors.Spec> specs = new ArrayList<>();
        boolean fused = false;
        for (ParameterLayout.View v : Blt.layoutOf(config).views()) {
            long[] shape = Arrays.stream(v.shape()).asLongStream().toArray();
            if (HfNames.hashTableIndex(v.name()) >= 0) {
                if (!fused) specs.add(new SparseSafetensors.Spec(HfNames.FUSED_HASH_TABLE, Dtype.BF16,
                        new long[]{shape[0] * config.hashTables(), shape[1]}));
                fused = true;
            } else specs.add(new SparseSafetensors.Spec(HfNames.bltToHf(v.name()), Dtype.BF16, shape));
        }
        for (ParameterLayout.View v : ByteLm.layoutOf(ByteLmConfig.fromJson(entropy, "entropy args")).views())
            specs.add(new SparseSafetensors.Spec(HfNames.entropyToHf(v.name()), Dtype.BF16, Arrays.stream(v.shape()).asLongStream().toArray()));
        ObjectNode patcher = Json.MAPPER.createObjectNode().put("threshold", args.path("patching_threshold").asDouble());
        Files.writeString(dir.resolve(Checkpoint.CONFIG_FILE), Json.write(HfLayout.config(args, entropy, patcher)));
        return SparseSafetensors.create(dir.resolve(Checkpoint.MODEL_FILE), specs);
    }

    /** Runs the benchmark in a temporary directory (deleted afterwards) and returns the figures. */
    public static Map<String, Object> run() throws IOException {
        Path dir = Files.createTempDirectory("patchwork-bench-load");
        try {
            return measure(dir);
        } finally {
            try (var files = Files.list(dir)) {
                for (Path p : files.toList()) Files.deleteIfExists(p);
            }
            Files.deleteIfExists(dir);
        }
    }

    private static Map<String, Object> measure(Path dir) throws IOException {
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("model", "synthetic blt-1b (spec §2 shapes), Hugging Face layout, BF16, sparse file, all weights zero");
        long t0 = System.nanoTime();
        long fileBytes = writeSynthetic(dir, blt1bArgs(), entropyArgs());
        r.put("file_bytes", fileBytes);
        r.put("write_seconds", seconds(t0));
        r.put("rss_mb_before", rssMb());

        long t1 = System.nanoTime();
        ModelDirectory md = ModelDirectory.of(dir);
        BltConfig config = md.bltConfig();
        ParameterLayout layout = Blt.layoutOf(config);
        long bltValues = 0, hashValues = 0;
        try (SafetensorsFile f = Checkpoint.openModel(dir)) {
            HfTensorSource source = HfTensorSource.blt(f, config.hashTables());
            for (ParameterLayout.View v : layout.views()) {
                TensorEntry t = source.tensor(v.name());
                if (!t.hasShape(v.shape())) throw new PatchworkException("synthetic tensor " + t + " does not fit view " + v);
                bltValues += t.elementCount();
                if (HfNames.hashTableIndex(v.name()) >= 0) hashValues += t.elementCount();
            }
            r.put("blt_map_and_check_seconds", seconds(t1));
            r.put("rss_mb_after_mapping", rssMb());
            TensorEntry fusedTable = f.tensor(HfNames.FUSED_HASH_TABLE);
            r.put("fused_hash_table_values", fusedTable.elementCount());
            // The last value of the fused table sits past byte 2^32: read it through the slice of the last table.
            TensorEntry last = source.tensor(HfNames.hashTable(config.hashTables() - 1));
            long lastByte = fusedTable.data().byteSize() - 2;
            short bits = fusedTable.data().get(ValueLayout.JAVA_SHORT_UNALIGNED, lastByte);
            short viaSlice = last.data().get(ValueLayout.JAVA_SHORT_UNALIGNED, last.data().byteSize() - 2);
            if (bits != viaSlice || bits != 0) throw new PatchworkException("the last hash-table value reads differently through the slice");
            r.put("last_hash_value_byte_offset", lastByte);
        }
        r.put("blt_values", bltValues);
        r.put("blt_values_without_hash_tables", bltValues - hashValues);
        r.put("hash_table_values", hashValues);
        r.put("blt_float32_copy_bytes_avoided", bltValues * 4);

        // The BLT and its entropy model as eval and generate load them (--dtype auto): matrices stay mapped in BF16.
        long t2 = System.nanoTime();
        Blt blt = md.loadBlt(WeightStorage.AUTO);
        r.put("blt_load_seconds", seconds(t2));
        r.put("blt_float_storage_bytes", blt.parameters().floatStorageBytes());
        r.put("blt_mapped_tensors", layout.views().stream().filter(v -> blt.parameters().mapped(v) != null).count());
        r.put("rss_mb_after_blt_load", rssMb());
        long t3 = System.nanoTime();
        ByteLm entropy = md.loadEntropyModel(WeightStorage.AUTO);
        r.put("entropy_model_values", entropy.layout().parameterCount());
        r.put("entropy_model_load_seconds", seconds(t3));
        r.put("entropy_model_float_storage_bytes", entropy.parameters().floatStorageBytes());
        r.put("rss_mb_after_loading", rssMb());

        // Greedy generation. All weights are zero, so every entropy is ln 260 > the threshold: each byte is its own
        // patch and costs a global-transformer step, the most expensive case. The first byte also pages the mapped
        // weights in (cold); the later ones read them from the page cache.
        var patcher = PatcherConfig.entropy(config.patchingThreshold()).build();
        BltGenerator generator = new BltGenerator(blt, new EntropyModel(entropy), patcher);
        List<Long> stepTimes = new ArrayList<>();
        long t4 = System.nanoTime();
        var settings = new BltGeneration.Settings(GENERATED_BYTES, false, SamplingOptions.greedy(), BltGeneration.REFERENCE_MAX_PROMPT_IDS);
        var result = generator.generate("Hello".getBytes(StandardCharsets.UTF_8), settings, step -> stepTimes.add(System.nanoTime()));
        r.put("generated_bytes", result.ids().length);
        r.put("blt_first_byte_seconds", (stepTimes.getFirst() - t4) / 1e9);
        double[] later = new double[stepTimes.size() - 1];
        for (int i = 1; i < stepTimes.size(); i++) later[i - 1] = (stepTimes.get(i) - stepTimes.get(i - 1)) / 1e9;
        Arrays.sort(later);
        r.put("blt_seconds_per_byte_median_after_first", later.length == 0 ? null : later[later.length / 2]);
        r.put("global_steps_per_byte", result.stats().globalStepsPerByte());
        r.put("generation_part_seconds", result.stats().partNanos().entrySet().stream()
                .collect(LinkedHashMap::new, (m, e) -> m.put(e.getKey(), e.getValue() / 1e9), Map::putAll));
        r.put("rss_mb_after_generation", rssMb());
        // resident memory split: anonymous (heap, activations, the float storage) vs pages of the mapped checkpoint
        r.put("rss_anon_mb_after_generation", procField(Path.of("/proc/self/status"), "RssAnon:") / 1024);
        r.put("rss_file_mb_after_generation", procField(Path.of("/proc/self/status"), "RssFile:") / 1024);
        r.put("machine_memory_bytes", memTotal());

        // BF16 against float32 on a whole model whose weights do not fit in cache: the entropy model (99.5M values,
        // 199 MB in BF16, 398 MB as float32) generating byte by byte with its KV cache, mapped BF16 vs a float32 copy.
        Map<String, Object> lm = new LinkedHashMap<>();
        lm.put("bf16_mapped_seconds_per_byte", secondsPerByte(entropy));
        lm.put("f32_copy_seconds_per_byte", secondsPerByte(md.loadEntropyModel(WeightStorage.F32)));
        lm.put("bf16_speedup", (double) lm.get("f32_copy_seconds_per_byte") / (double) lm.get("bf16_mapped_seconds_per_byte"));
        r.put("entropy_model_generation", lm);
        r.put("gemv_bf16_vs_f32", MappedGemvBench.run());
        return r;
    }

    /** Seconds per greedily generated byte of a byte LM, {@link #LM_BYTES} bytes after a warm-up of 8. */
    private static double secondsPerByte(ByteLm model) {
        ByteLmGenerator g = new ByteLmGenerator(model);
        byte[] prompt = "Hello".getBytes(StandardCharsets.UTF_8);
        g.generate(prompt, 8, false, SamplingOptions.greedy(), b -> true);
        long t0 = System.nanoTime();
        g.generate(prompt, LM_BYTES, false, SamplingOptions.greedy(), b -> true);
        return seconds(t0) / LM_BYTES;
    }

    private static double seconds(long start) {
        return (System.nanoTime() - start) / 1e9;
    }

    /** Resident set size of this process in MB (VmRSS of /proc/self/status), or -1 where there is none. */
    static long rssMb() {
        return procField(Path.of("/proc/self/status"), "VmRSS:") / 1024;
    }

    private static long memTotal() {
        return procField(Path.of("/proc/meminfo"), "MemTotal:") * 1024;
    }

    private static long procField(Path file, String key) {
        try {
            for (String line : Files.readAllLines(file))
                if (line.startsWith(key)) return Long.parseLong(line.substring(key.length()).trim().split("\\s+")[0]);
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }
}

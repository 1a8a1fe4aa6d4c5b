package dev.patchwork.bench;

import dev.patchwork.data.ByteTokens;
import dev.patchwork.model.ByteLm;
import dev.patchwork.model.ByteLmConfig;
import dev.patchwork.patch.EntropyModel;
import dev.patchwork.tensor.Parallel;
import dev.patchwork.tensor.Simd;
import dev.patchwork.util.Json;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * Times next-byte entropies over {@code N} MB of text with a small entropy model (random weights: speed does not
 * depend on them) and reports bytes per second. The text is the first {@code N} MB of the running JDK's Java sources
 * ({@code lib/src.zip}, one document per file, in entry-name order like a corpus), or deterministic pseudo-text with
 * documents of varied lengths when the JDK ships no sources.
 */
public final class EntropyBench {
    /** Megabytes of text when none is given. */
    public static final int DEFAULT_MB = 10;
    /** Bytes of the untimed warm-up run (lets the JIT compile the kernels first). */
    private static final int WARMUP_BYTES = 256 << 10;

    private EntropyBench() {}

    /**
     * The benchmark's entropy model: the byte LM that {@code patchwork demo} trains (4 layers, dim 128, 4 heads of
     * 32, SwiGLU hidden 352, max_seqlen 64, so chunks of 64 ids).
     */
    public static ByteLmConfig defaultConfig() {
        return config("{\"dim\": 128, \"n_layers\": 4, \"n_heads\": 4, \"multiple_of\": 32, \"max_seqlen\": 64}");
    }

    /**
     * The same width and depth with the attention of the reference's entropy model: sliding window 512, max_seqlen
     * 8192 (chunks of 8192 ids), SwiGLU hidden 512 ({@code multiple_of} 256).
     */
    public static ByteLmConfig referenceShapedConfig() {
        return config("{\"dim\": 128, \"n_layers\": 4, \"n_heads\": 4, \"max_seqlen\": 8192, \"sliding_window\": 512}");
    }

    private static ByteLmConfig config(String json) {
        try {
            return ByteLmConfig.fromJson(Json.MAPPER.readTree(json), "entropy benchmark model");
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Entropies of {@code megabytes} MB of text with {@link #defaultConfig()}, and the machine's FMA peak. */
    public static Map<String, Object> run(double megabytes) {
        return run(defaultConfig(), megabytes, true);
    }

    /**
     * @param measurePeak also probe the machine's FMA peak (several seconds) to report the model FLOP utilisation,
     *                    which makes figures from a busy shared machine comparable
     */
    public static Map<String, Object> run(ByteLmConfig config, double megabytes, boolean measurePeak) {
        if (!(megabytes > 0)) throw new IllegalArgumentException("megabytes must be > 0, got " + megabytes);
        long bytes = (long) (megabytes * 1_000_000);
        Path jdkSources = Path.of(System.getProperty("java.home"), "lib", "src.zip");
        Text text = text(bytes, jdkSources);
        EntropyModel model = new EntropyModel(ByteLm.initialise(config));
        model.entropies(pseudoText(Math.min(bytes, WARMUP_BYTES)).documents);

        long ids = text.documents.stream().mapToLong(d -> d.length).sum();
        long t0 = System.nanoTime(), cpu0 = processCpuNanos();
        List<float[]> h = model.entropies(text.documents);
        double seconds = (System.nanoTime() - t0) / 1e9, cpuSeconds = (processCpuNanos() - cpu0) / 1e9;
        double checksum = 0;
        for (float[] d : h) for (float v : d) checksum += v;
        double gflops = forwardFlops(config, text.documents, model.chunkLength()) / seconds / 1e9;

        Map<String, Object> m = new LinkedHashMap<>();
        m.put("benchmark", "entropy");
        m.put("kernels", Simd.SCALAR ? "scalar" : "vector" + Simd.F.vectorBitSize());
        m.put("threads", Parallel.threads());
        Map<String, Object> shape = new LinkedHashMap<>();
        shape.put("dim", config.dim());
        shape.put("n_layers", config.nLayers());
        shape.put("n_heads", config.heads());
        shape.put("ffn_hidden", config.ffnHidden());
        shape.put("sliding_window", config.slidingWindow() == null ? "none" : config.slidingWindow());
        shape.put("parameters", model.model().layout().parameterCount());
        m.put("model", shape);
        m.put("chunk_length", model.chunkLength());
        m.put("max_batch_rows", model.maxBatchRows());
        m.put("text", text.source);
        m.put("documents", text.documents.size());
        m.put("bytes", text.bytes);
        m.put("ids", ids);
        m.put("seconds", seconds);
        // on a shared machine, cpu_seconds well below threads × seconds means other processes took the cores
        m.put("cpu_seconds", cpuSeconds);
        m.put("bytes_per_s", text.bytes / seconds);
        m.put("model_gflops", gflops);
        if (measurePeak) {
            FmaPeak.Result peak = FmaPeak.measure(20_000_000L, 3);
            m.put("fma_peak_gflops", peak.totalGflops());
            m.put("mfu", gflops / peak.totalGflops());
        }
        m.put("mean_entropy_nats", checksum / ids);
        return m;
    }

    /** Forward FLOPs of the useful (unpadded) positions: every chunk of every document, positions restarting. */
    static double forwardFlops(ByteLmConfig config, List<int[]> documents, int chunk) {
        Map<Integer, Double> perChunk = new HashMap<>();
        double flops = 0;
        for (int[] d : documents) {
            for (int s = 0; s < d.length; s += chunk) {
                int length = Math.min(chunk, d.length - s);
                flops += perChunk.computeIfAbsent(length, n -> n * ModelFlops.forwardPerToken(config, n));
            }
        }
        return flops;
    }

    private static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean()).getProcessCpuTime();
    }

    /** Documents as id arrays (BOS, bytes+4, EOS) holding {@code bytes} content bytes in all, and where they came from. */
    record Text(String source, List<int[]> documents, long bytes) {}

    /** {@code bytes} bytes of the {@code .java} files in {@code src} if it exists, else pseudo-text. */
    static Text text(long bytes, Path src) {
        if (Files.isRegularFile(src)) {
            try {
                return jdkSources(src, bytes);
            } catch (IOException e) {
                throw new UncheckedIOException("reading " + src + ": " + e, e);
            }
        }
        return pseudoText(bytes);
    }

    /** The first {@code bytes} bytes of the {@code .java} files of the JDK's sources, the last file cut short. */
    private static Text jdkSources(Path zip, long bytes) throws IOException {
        List<int[]> docs = new ArrayList<>();
        long taken = 0;
        try (ZipFile z = new ZipFile(zip.toFile())) {
            List<? extends ZipEntry> entries = z.stream()
                    .filter(e -> !e.isDirectory() && e.getName().endsWith(".java"))
                    .sorted(Comparator.comparing(ZipEntry::getName)).toList();
            for (ZipEntry e : entries) {
                if (taken >= bytes) break;
                byte[] content;
                try (InputStream in = z.getInputStream(e)) {
                    content = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, bytes - taken));
                }
                if (content.length == 0) continue;
                docs.add(ByteTokens.encode(content, true, true));
                taken += content.length;
            }
        }
        if (taken < bytes) { // a JDK with few sources: top up with pseudo-text
            Text rest = pseudoText(bytes - taken);
            docs.addAll(rest.documents);
            taken += rest.bytes;
        }
        return new Text(zip + " (.java files)", docs, taken);
    }

    /**
     * Words of 1–10 lowercase letters separated by spaces and newlines, in documents of 1 byte to 32 KB (uniform in
     * log-size, so short and long documents both occur, as in a real corpus); seeded, so every run sees the same text.
     */
    static Text pseudoText(long bytes) {
        SplittableRandom r = new SplittableRandom(42);
        List<int[]> docs = new ArrayList<>();
        long taken = 0;
        while (taken < bytes) {
            int length = (int) Math.min(bytes - taken, Math.round(Math.exp(r.nextDouble() * Math.log(32768))));
            byte[] doc = new byte[length];
            for (int i = 0; i < length; ) {
                int word = 1 + r.nextInt(10);
                for (int k = 0; k < word && i < length; k++) doc[i++] = (byte) ('a' + r.nextInt(26));
                if (i < length) doc[i++] = (byte) (r.nextInt(12) == 0 ? '\n' : ' ');
            }
            docs.add(ByteTokens.encode(doc, true, true));
            taken += length;
        }
        return new Text("pseudo-text", docs, taken);
    }

    /** {@code java ... dev.patchwork.bench.EntropyBench [megabytes]}: prints the result as JSON. */
    public static void main(String[] args) {
        double mb = args.length > 0 ? Double.parseDouble(args[0]) : DEFAULT_MB;
        System.out.println(Json.write(run(mb)));
    }
}

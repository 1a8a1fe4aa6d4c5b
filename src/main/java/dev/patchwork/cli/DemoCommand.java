package dev.patchwork.cli;

import dev.patchwork.data.ByteCorpus;
import dev.patchwork.data.CorpusOptions;
import dev.patchwork.data.CorpusSource;
import dev.patchwork.generate.ByteLmGenerator;
import dev.patchwork.generate.SamplingOptions;
import dev.patchwork.model.ByteLm;
import dev.patchwork.model.ByteLmConfig;
import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.tensor.Simd;
import dev.patchwork.train.ByteLmTrainer;
import dev.patchwork.train.ReplicaTeam;
import dev.patchwork.train.WindowReplicas;
import dev.patchwork.train.StopSignal;
import dev.patchwork.train.Trainer;
import dev.patchwork.train.TrainSettings;
import dev.patchwork.util.PatchworkException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.concurrent.Callable;

/**
 * {@code patchwork demo}: the whole loop in about two minutes with no arguments: trains a small byte LM on the Java
 * sources of the running JDK ({@code lib/src.zip}; Shakespeare shipped in the jar when the JDK has no sources), then
 * reports held-out bits per byte and a sample.
 */
@Command(name = "demo", mixinStandardHelpOptions = true, description = "Train a small byte LM for about two minutes, then evaluate and sample it.",
        footer = {"", "Examples:", "  patchwork demo", "  patchwork demo --minutes 5 --out runs/demo5"})
final class DemoCommand implements Callable<Integer> {
    @Option(names = "--minutes", defaultValue = "2", description = "Training time budget (default: ${DEFAULT-VALUE}).")
    double minutes;
    @Option(names = "--out", defaultValue = "runs/demo", description = "Run directory (default: ${DEFAULT-VALUE}); a previous demo run there is replaced.")
    Path out;
    @Option(names = "--steps", description = "Train exactly this many steps instead of filling the time budget.")
    Integer steps;

    static final int BATCH = 12, SEQ = 64;

    @Override
    public Integer call() throws Exception {
        if (!(minutes > 0)) throw new PatchworkException("--minutes must be > 0");
        System.err.println("patchwork demo: " + Simd.describe());
        ByteLmConfig config = new ByteLmConfig(128, 4, null, 4, null, null, 32, 1e-5, 10000.0, null, "disabled",
                SEQ, 42L, 260, false, null, "local_block_causal", null, 2, null, null, null);
        clearPreviousRun();
        Path zip = Path.of(System.getProperty("java.home"), "lib", "src.zip");
        CorpusSource source;
        String prompt;
        if (Files.isRegularFile(zip)) {
            System.err.println("corpus: the Java sources of this JDK, " + zip);
            source = CorpusSource.of(zip, CorpusOptions.including(".java"));
            prompt = "public static ";
        } else {
            Path text = out.resolve("tinyshakespeare.txt.gz");
            Files.createDirectories(out);
            try (InputStream in = DemoCommand.class.getResourceAsStream("/demo/tinyshakespeare.txt.gz")) {
                if (in == null) throw new PatchworkException("the jar has no built-in demo corpus; rebuild it with ./patchwork");
                Files.copy(in, text, StandardCopyOption.REPLACE_EXISTING);
            }
            System.err.println("corpus: " + zip + " not found; using the Shakespeare text built into the jar");
            source = CorpusSource.of(text);
            prompt = "ROMEO:\n";
        }
        ByteCorpus corpus = ByteCorpus.open(source, out.resolve("cache"), Progress.corpus(System.err));
        int n = steps != null ? steps : stepsForBudget(config);
        TrainSettings settings = new TrainSettings(n, BATCH, SEQ, 1e-3, 0.1, Math.min(100, n / 10), "cosine", 0.9, 0.99,
                1e-8, 0.1, 1.0, Math.max(1, n / 4), 20, n, Math.max(1, n / 40), 1337L, 0.1);
        Trainer.Result result;
        ByteLm model;
        try (StopSignal stop = StopSignal.install()) {
            ByteLmTrainer trainer = ByteLmTrainer.start(config, settings, corpus, source.path().toString(), out, System.err, stop);
            result = trainer.run();
            model = trainer.model();
        }
        System.out.printf("%nheld-out: %.4f bits/byte (%.4f nats/byte) after %d steps, %,.0f bytes/s%n",
                result.evalLoss() / Math.log(2), result.evalLoss(), result.steps(), result.bytesPerSecond());
        System.out.println("sample (temperature 0.8):");
        System.out.println("----");
        byte[] sample = new ByteLmGenerator(model).generate(prompt.getBytes(StandardCharsets.UTF_8), 300, true,
                new SamplingOptions(0.8, 0, 1.0, 1), b -> true).bytes();
        System.out.println(prompt + new String(sample, StandardCharsets.UTF_8));
        System.out.println("----");
        System.out.println("The run is in " + out + " (checkpoint/, metrics.jsonl, loss.png). Try next:");
        System.out.println("  ./patchwork generate --model " + out + " --prompt \"" + prompt.strip() + "\" --temperature 0.7");
        System.out.println("  ./patchwork eval --model " + out + " --data <some file>");
        System.out.println("  ./patchwork demo --minutes 10          (a longer run)");
        System.out.println("  ./patchwork bench train --config configs/bytelm-nanogpt.json");
        return result.interrupted() ? 130 : 0;
    }

    /** Steps that fill the time budget at this machine's speed, measured on a few throwaway steps. */
    private int stepsForBudget(ByteLmConfig config) {
        ByteLm probe = ByteLm.initialise(config);
        ParameterBuffer grads = ParameterBuffer.allocate(probe.layout());
        WindowReplicas replicas = new WindowReplicas(probe, ReplicaTeam.replicasFor(BATCH)); // as the trainer's steps
        int[] x = new int[BATCH * SEQ], y = new int[BATCH * SEQ];
        java.util.Arrays.fill(x, 100);
        java.util.Arrays.fill(y, 101);
        long t0 = 0;
        for (int i = 0; i < 15; i++) {
            if (i == 5) t0 = System.nanoTime(); // the first steps warm up the JIT
            replicas.forwardLoss(x, y, BATCH, SEQ);
            replicas.backward(grads);
        }
        double perStep = (System.nanoTime() - t0) / 1e9 / 10 * 1.15; // + optimizer, eval and checkpoints
        int n = (int) (minutes * 60 / perStep);
        return Math.max(50, Math.min(n, 50_000));
    }

    private void clearPreviousRun() throws IOException {
        for (String f : new String[]{"metrics.jsonl", "loss.png"}) Files.deleteIfExists(out.resolve(f));
        Path checkpoint = out.resolve(dev.patchwork.model.ByteLmCheckpoint.RUN_CHECKPOINT);
        if (Files.isDirectory(checkpoint)) {
            try (var files = Files.walk(checkpoint)) {
                for (Path p : files.sorted(java.util.Comparator.reverseOrder()).toList()) Files.delete(p);
            }
        }
    }
}

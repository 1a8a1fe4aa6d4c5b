package dev.patchwork.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.patchwork.data.ByteCorpus;
import dev.patchwork.data.CorpusOptions;
import dev.patchwork.data.CorpusSource;
import dev.patchwork.model.ByteLmConfig;
import dev.patchwork.model.MegabyteConfig;
import dev.patchwork.train.BltTrainConfig;
import dev.patchwork.train.BltTrainer;
import dev.patchwork.train.ByteLmTrainer;
import dev.patchwork.train.MegabyteTrainer;
import dev.patchwork.train.StopSignal;
import dev.patchwork.train.TokenLmTrainConfig;
import dev.patchwork.train.TokenLmTrainer;
import dev.patchwork.train.Trainer;
import dev.patchwork.train.TrainSettings;
import dev.patchwork.util.Json;
import dev.patchwork.util.PatchworkException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code patchwork train}: trains a byte LM from a JSON config on a corpus, or resumes a run. */
@Command(name = "train", mixinStandardHelpOptions = true, description = "Train a byte-level LM or a BLT on a corpus (file, directory, .zip, .gz or .jsonl).",
        footer = {"", "The config is either a model config (reference field names: dim, n_layers, n_heads, ...) or",
                "{\"model\": {...}, \"train\": {...}} with training settings (steps, batch_size, seq_len, lr, lr_min_ratio,",
                "warmup, scheduler, beta1, beta2, epsilon, weight_decay, clip, eval_every, eval_batches, checkpoint_every,",
                "log_every, seed, eval_fraction). Flags override the file.", "",
                "A BLT config (its model has dim_global, n_layers_global, ...) adds \"patcher\" (patching_mode, threshold, ...)",
                "and \"entropy_model\": {\"checkpoint\": DIR} or {\"model\": {...}, \"train\": {...}} to train one first;",
                "seq_len then counts patches. See configs/blt-tiny.json.", "",
                "Examples:",
                "  patchwork train --config configs/blt-tiny.json --data input.txt --out runs/blt",
                "  patchwork train --config configs/bytelm-tiny.json --data input.txt --out runs/tiny",
                "  patchwork train --config configs/megabyte-tiny.json --data input.txt --out runs/megabyte",
                "  patchwork train --config configs/bpe-lm-tiny.json --tokenizer tok.json --data input.txt --out runs/bpe",
                "  patchwork train --config configs/bytelm-tiny.json --data corpus.zip --zip-suffix .java --out runs/java --steps 500",
                "  patchwork train --resume --out runs/tiny"})
final class TrainCommand implements Callable<Integer> {
    @Option(names = "--config", paramLabel = "FILE", description = "Model (and training) config JSON.")
    Path config;
    @Option(names = "--data", paramLabel = "PATH", description = "Corpus: file, directory, .zip, .gz or .jsonl (text field).")
    Path data;
    @Option(names = "--out", required = true, paramLabel = "DIR", description = "Run directory (checkpoints, metrics, plots).")
    Path out;
    @Option(names = "--resume", description = "Continue the run in --out from its last checkpoint.")
    boolean resume;
    @Option(names = "--tokenizer", paramLabel = "FILE", description = "BPE baseline (a config with a \"tokenizer\" section): the tokenizer JSON to use.")
    Path tokenizer;
    @Option(names = "--zip-suffix", paramLabel = "SUFFIX", description = "Only use archive/directory entries ending with this (repeatable), e.g. .java.")
    java.util.List<String> suffixes = new java.util.ArrayList<>();

    @Option(names = "--steps") Integer steps;
    @Option(names = "--batch-size") Integer batchSize;
    @Option(names = "--seq-len") Integer seqLen;
    @Option(names = "--lr") Double lr;
    @Option(names = "--lr-min-ratio") Double lrMinRatio;
    @Option(names = "--warmup") Integer warmup;
    @Option(names = "--scheduler", description = "cosine, linear or constant") String scheduler;
    @Option(names = "--beta1") Double beta1;
    @Option(names = "--beta2") Double beta2;
    @Option(names = "--weight-decay") Double weightDecay;
    @Option(names = "--clip") Double clip;
    @Option(names = "--eval-every") Integer evalEvery;
    @Option(names = "--eval-batches") Integer evalBatches;
    @Option(names = "--checkpoint-every") Integer checkpointEvery;
    @Option(names = "--log-every") Integer logEvery;
    @Option(names = "--seed") Long seed;
    @Option(names = "--eval-fraction") Double evalFraction;

    @Override
    public Integer call() throws Exception {
        Trainer.Result r;
        try (StopSignal stop = StopSignal.install()) {
            ByteLmTrainer.ByteLmCorpusOpener opener = saved -> openCorpus(data != null ? data : Path.of(saved));
            if (resume) {
                if (config != null || tokenizer != null)
                    throw new PatchworkException("--resume continues with the run's own config and tokenizer; drop --config and --tokenizer");
                r = BltTrainer.isBltRun(out) ? BltTrainer.resume(opener, out, System.err, stop).run()
                        : MegabyteTrainer.isMegabyteRun(out) ? MegabyteTrainer.resume(opener, out, System.err, stop).run()
                        : TokenLmTrainer.isTokenLmRun(out) ? TokenLmTrainer.resume(opener, out, System.err, stop).run()
                        : ByteLmTrainer.resume(opener, out, System.err, stop).run();
            } else {
                if (config == null) throw new PatchworkException("missing --config FILE (or use --resume to continue a run)");
                if (data == null) throw new PatchworkException("missing --data PATH (a file, directory, .zip, .gz or .jsonl)");
                JsonNode root = Json.readTree(config);
                if (!root.isObject()) throw new PatchworkException(config + ": expected a JSON object");
                String source = data.toAbsolutePath().normalize().toString();
                if (tokenizer != null && !TokenLmTrainConfig.isTokenLm(root))
                    throw new PatchworkException("--tokenizer applies to a BPE baseline config (one with a \"tokenizer\" section, see configs/bpe-lm-tiny.json)");
                r = TokenLmTrainConfig.isTokenLm(root)
                        ? TokenLmTrainer.start(TokenLmTrainConfig.fromJson(root, config.toString(), this::withOverrides, tokenizer),
                                openCorpus(Path.of(source)), source, out, System.err, stop).run()
                        : BltTrainConfig.isBlt(root)
                        ? BltTrainer.start(BltTrainConfig.fromJson(root, config.toString(), this::withOverrides), source, opener, out,
                                System.err, stop).run()
                        : startByteLm(root, source, stop);
            }
        }
        String heldOut = Double.isNaN(r.evalLoss()) ? "held-out not evaluated yet"
                : String.format("held-out %.4f nats/byte (%.4f bits/byte)", r.evalLoss(), r.evalLoss() / Math.log(2));
        System.err.printf("%s: %d steps, train loss %.4f, %s, %,.0f bytes/s; model in %s%n", r.interrupted() ? "stopped" : "done",
                r.steps(), r.trainLoss(), heldOut, r.bytesPerSecond(), out);
        return r.interrupted() ? 130 : 0;
    }

    /** A byte LM, or a MEGABYTE model when the model section has {@code global_dim}: same config form, same data. */
    private Trainer.Result startByteLm(JsonNode root, String source, StopSignal stop) throws java.io.IOException {
        JsonNode modelNode = root, trainNode = Json.MAPPER.createObjectNode();
        if (root.has("model") || root.has("train")) {
            for (var it = root.fieldNames(); it.hasNext(); ) {
                String f = it.next();
                if (!f.equals("model") && !f.equals("train"))
                    throw new PatchworkException(config + ": unknown top-level field '" + f + "' (expected 'model' and 'train';"
                            + " a BLT config's model has dim_global)");
            }
            if (!root.has("model")) throw new PatchworkException(config + ": missing 'model' section");
            modelNode = root.get("model");
            if (root.has("train")) trainNode = root.get("train");
        }
        if (!trainNode.isObject()) throw new PatchworkException(config + ": 'train' must be an object");
        TrainSettings settings = Json.bind(withOverrides(((ObjectNode) trainNode).deepCopy()), TrainSettings.class, config + " (train settings)");
        if (MegabyteConfig.isMegabyte(modelNode)) {
            MegabyteConfig megabyte = MegabyteConfig.fromJson(modelNode, config.toString());
            MegabyteTrainer.checkShape(megabyte, settings); // before preparing data
            return MegabyteTrainer.start(megabyte, settings, openCorpus(Path.of(source)), source, out, System.err, stop).run();
        }
        ByteLmConfig modelConfig = ByteLmConfig.fromJson(modelNode, config.toString());
        ByteLmTrainer.checkFits(modelConfig, settings.batchSize(),
                settings.seqLenOr(modelConfig.maxSeqlen())); // before preparing data
        return ByteLmTrainer.start(modelConfig, settings, openCorpus(Path.of(source)), source, out, System.err, stop).run();
    }

    private ByteCorpus openCorpus(Path source) {
        if (!Files.exists(source)) throw new PatchworkException("data not found: " + source);
        CorpusOptions options = suffixes.isEmpty() ? CorpusOptions.ALL : CorpusOptions.including(suffixes.toArray(String[]::new));
        return ByteCorpus.open(CorpusSource.of(source, options), out.resolve("cache"), Progress.corpus(System.err));
    }

    /** The command-line flags over a train section. */
    private ObjectNode withOverrides(ObjectNode n) {
        put(n, "steps", steps);
        put(n, "batch_size", batchSize);
        put(n, "seq_len", seqLen);
        put(n, "lr", lr);
        put(n, "lr_min_ratio", lrMinRatio);
        put(n, "warmup", warmup);
        put(n, "scheduler", scheduler);
        put(n, "beta1", beta1);
        put(n, "beta2", beta2);
        put(n, "weight_decay", weightDecay);
        put(n, "clip", clip);
        put(n, "eval_every", evalEvery);
        put(n, "eval_batches", evalBatches);
        put(n, "checkpoint_every", checkpointEvery);
        put(n, "log_every", logEvery);
        put(n, "seed", seed);
        put(n, "eval_fraction", evalFraction);
        return n;
    }

    private static void put(ObjectNode n, String field, Object value) {
        if (value != null) n.set(field, Json.MAPPER.valueToTree(value));
    }
}

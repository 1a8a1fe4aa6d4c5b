package dev.patchwork.experiment;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.patchwork.data.ByteTokens;
import dev.patchwork.data.CorpusSource;
import dev.patchwork.eval.BltEvaluator;
import dev.patchwork.eval.FlopAccounting;
import dev.patchwork.model.Blt;
import dev.patchwork.model.BltCheckpoint;
import dev.patchwork.patch.EntropyModel;
import dev.patchwork.patch.Patcher;
import dev.patchwork.patch.PatcherConfig;
import dev.patchwork.train.BltTrainConfig;
import dev.patchwork.train.BltTrainer;
import dev.patchwork.train.TrainSettings;
import dev.patchwork.train.Trainer;
import dev.patchwork.util.Json;
import dev.patchwork.util.PatchworkException;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Set;

/**
 * {@code "kind": "blt"}: a BLT ({@link BltTrainer}) with {@code "patching": "static" | "space" | "entropy"} at
 * {@code "patch_size"} bytes per patch. Static patching cuts every {@code patch_size} bytes; entropy patching
 * calibrates its threshold so that the training split's mean patch size is {@code patch_size}, with the entry's
 * {@code "entropy_model"} (as in a BLT training config: {@code {"checkpoint": DIR}} or {@code {"model", "train"}}, the
 * latter trained first and not counted in the budget, like the paper's accounting); space patching has its own mean
 * patch size, so {@code patch_size} is only the estimate the step count is planned with (the report shows the
 * measured one). One training step reads batch × min(seq_len × patch_size, max_encoder_seq_length) bytes.
 */
final class BltExperimentModel implements ExperimentModel {
    private final ModelSpec spec;
    private final BltTrainConfig config;
    private final double patchSize;
    private final double contextBytes;

    BltExperimentModel(ModelSpec spec, TrainSettings settings) {
        Experiment.requireOnly(spec, Set.of("patching", "patch_size", "entropy_model"));
        this.spec = spec;
        JsonNode ps = spec.entry().get("patch_size");
        if (ps == null || !ps.isNumber() || !(ps.doubleValue() >= 1) || Double.isInfinite(ps.doubleValue()))
            throw new PatchworkException(spec.what() + ": a blt needs \"patch_size\": a number >= 1 (mean bytes per patch)");
        this.patchSize = ps.doubleValue();
        this.config = BltTrainConfig.fromJson(trainConfig(settings), spec.what(), n -> n);
        this.contextBytes = Math.min(config.seqLen() * patchSize, config.model().maxEncoderSeqLength());
        BltTrainer.checkFits(config.model(), settings.batchSize(), config.seqLen(), patchSize);
    }

    /** The BLT training config ({@link BltTrainConfig}'s format) of this entry with {@code settings}. */
    private ObjectNode trainConfig(TrainSettings settings) {
        ObjectNode root = Json.MAPPER.createObjectNode();
        root.set("model", spec.model());
        root.set("patcher", patcher());
        JsonNode entropy = spec.entry().get("entropy_model");
        if (entropy != null) root.set("entropy_model", entropy);
        root.set("train", Json.MAPPER.valueToTree(settings));
        return root;
    }

    private ObjectNode patcher() {
        JsonNode mode = spec.entry().get("patching");
        String m = mode == null || !mode.isTextual() ? "" : mode.textValue();
        ObjectNode p = Json.MAPPER.createObjectNode();
        switch (m) {
            case "static" -> {
                if (patchSize != Math.rint(patchSize))
                    throw new PatchworkException(spec.what() + ": static patching needs a whole patch_size, got " + patchSize);
                p.put("patching_mode", "static").put("patch_size", patchSize);
            }
            case "space" -> p.put("patching_mode", "space");
            case "entropy" -> p.put("patching_mode", "entropy").put(BltTrainConfig.TARGET_PATCH_SIZE, patchSize);
            default -> throw new PatchworkException(spec.what() + ": a blt needs \"patching\": \"static\", \"space\" or \"entropy\", got "
                    + (mode == null ? "nothing" : mode.toString()));
        }
        return p;
    }

    @Override
    public String describe() {
        return String.format("BLT, %s patching at %s bytes/patch, global dim %d x %d layers, %d patches/sequence",
                spec.entry().get("patching").textValue(), patchSize, config.model().dimGlobal(), config.model().nLayersGlobal(), config.seqLen());
    }

    @Override
    public long parameters() {
        return Blt.layoutOf(config.model()).parameterCount();
    }

    @Override
    public double trainFlopsPerByte() {
        return FlopAccounting.train(FlopAccounting.bltPerByte(config.model(), contextBytes, patchSize));
    }

    @Override
    public double bytesPerStep() {
        return config.settings().batchSize() * contextBytes;
    }

    @Override
    public Double plannedPatchSize() {
        return patchSize;
    }

    @Override
    public Trainer.Result train(Training t) throws IOException {
        BltTrainer trainer = BltTrainer.isBltRun(t.runDir()) ? BltTrainer.resume(saved -> t.corpus(), t.runDir(), t.log(), t.stop())
                : BltTrainer.start(BltTrainConfig.fromJson(trainConfig(t.settings()), spec.what(), n -> n), t.dataSource(),
                saved -> t.corpus(), t.runDir(), t.log(), t.stop());
        return trainer.run();
    }

    @Override
    public Evaluation evaluate(Path runDir, CorpusSource heldOut, boolean patchHistogram) {
        Blt m = BltCheckpoint.load(runDir);
        Patcher patcher = PatcherConfig.fromJson(BltCheckpoint.patcherArgs(runDir), runDir + " (patcher args)").build();
        EntropyModel entropy = BltCheckpoint.entropyModel(runDir).map(EntropyModel::load).orElse(null);
        BltEvaluator.Result r = new BltEvaluator(m, entropy, patcher, config.settings().batchSize(), config.seqLen()).evaluate(heldOut);
        return new Evaluation(r.bitsPerByte(), r.bytes(), r.flopsPerByteInference(), r.meanPatchSize(),
                patchHistogram ? patchLengthCounts(heldOut, patcher, entropy) : null);
    }

    /** Patches of the held-out documents by length, patched as the evaluator patches them (BOS + bytes + EOS). */
    private static long[] patchLengthCounts(CorpusSource source, Patcher patcher, EntropyModel entropy) {
        long[][] counts = {new long[17]};
        try {
            source.forEachDocument((name, content) -> {
                int[] ids = ByteTokens.encode(content.readAllBytes(), true, true);
                for (int len : patcher.patch(ids, patcher.usesEntropies() ? entropy.entropies(ids) : null, false).lengths()) {
                    if (len >= counts[0].length) counts[0] = java.util.Arrays.copyOf(counts[0], Math.max(len + 1, 2 * counts[0].length));
                    counts[0][len]++;
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        int last = counts[0].length - 1;
        while (last > 1 && counts[0][last] == 0) last--;
        return java.util.Arrays.copyOf(counts[0], last + 1);
    }
}

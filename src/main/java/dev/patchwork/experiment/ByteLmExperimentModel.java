package dev.patchwork.experiment;

import dev.patchwork.data.CorpusSource;
import dev.patchwork.eval.ByteLmEvaluator;
import dev.patchwork.eval.FlopAccounting;
import dev.patchwork.io.Checkpoint;
import dev.patchwork.model.ByteLm;
import dev.patchwork.model.ByteLmCheckpoint;
import dev.patchwork.model.ByteLmConfig;
import dev.patchwork.train.ByteLmTrainer;
import dev.patchwork.train.TrainSettings;
import dev.patchwork.train.Trainer;
import dev.patchwork.util.PatchworkException;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Set;

/** {@code "kind": "byte_lm"}: a byte-level transformer ({@link ByteLmTrainer}); one training step reads batch × seq_len bytes. */
final class ByteLmExperimentModel implements ExperimentModel {
    private final ByteLmConfig config;
    private final TrainSettings settings;
    private final int seqLen;

    ByteLmExperimentModel(ModelSpec spec, TrainSettings settings) {
        Experiment.requireOnly(spec, Set.of());
        this.config = ByteLmConfig.fromJson(spec.model(), spec.what() + " (config)");
        this.settings = settings;
        this.seqLen = settings.seqLenOr(config.maxSeqlen());
        if (seqLen > config.maxSeqlen())
            throw new PatchworkException(spec.what() + ": train.seq_len " + seqLen + " exceeds the model's max_seqlen " + config.maxSeqlen());
        ByteLmTrainer.checkFits(config, settings.batchSize(), seqLen);
    }

    @Override
    public String describe() {
        return String.format("byte LM, dim %d, %d layers, context %d bytes", config.dim(), config.nLayers(), seqLen);
    }

    @Override
    public long parameters() {
        return ByteLm.layoutOf(config).parameterCount();
    }

    private double inferenceFlopsPerByte() {
        return FlopAccounting.byteLmPerByte(config, seqLen);
    }

    @Override
    public double trainFlopsPerByte() {
        return FlopAccounting.train(inferenceFlopsPerByte());
    }

    @Override
    public double bytesPerStep() {
        return (double) settings.batchSize() * seqLen;
    }

    @Override
    public Trainer.Result train(Training t) throws IOException {
        ByteLmTrainer trainer = t.resumable() ? ByteLmTrainer.resume(saved -> t.corpus(), t.runDir(), t.log(), t.stop())
                : ByteLmTrainer.start(config, t.settings(), t.corpus(), t.dataSource(), t.runDir(), t.log(), t.stop());
        return trainer.run();
    }

    @Override
    public Evaluation evaluate(Path runDir, CorpusSource heldOut, boolean patchHistogram) {
        ByteLm m = ByteLmCheckpoint.load(runDir);
        ByteLmEvaluator.Result r = new ByteLmEvaluator(m, settings.batchSize(), seqLen).evaluate(heldOut);
        return new Evaluation(r.bitsPerByte(), r.bytes(), inferenceFlopsPerByte(), null, null);
    }
}

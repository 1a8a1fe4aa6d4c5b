package dev.patchwork.experiment;

import dev.patchwork.data.CorpusSource;
import dev.patchwork.eval.FlopAccounting;
import dev.patchwork.eval.MegabyteEvaluator;
import dev.patchwork.model.Megabyte;
import dev.patchwork.model.MegabyteConfig;
import dev.patchwork.model.ModelDirectory;
import dev.patchwork.train.MegabyteTrainer;
import dev.patchwork.train.TrainSettings;
import dev.patchwork.train.Trainer;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Set;

/**
 * {@code "kind": "megabyte"}: MEGABYTE over fixed patches ({@link MegabyteTrainer}); one training step reads
 * batch × seq_len bytes, priced by {@link FlopAccounting#megabytePerByte}.
 */
final class MegabyteExperimentModel implements ExperimentModel {
    private final MegabyteConfig config;
    private final TrainSettings settings;
    private final int seqLen;

    MegabyteExperimentModel(ModelSpec spec, TrainSettings settings) {
        Experiment.requireOnly(spec, Set.of());
        this.config = MegabyteConfig.fromJson(spec.model(), spec.what() + " (config)");
        this.settings = settings;
        this.seqLen = settings.seqLenOr(config.maxSeqlen());
        MegabyteTrainer.checkShape(config, settings);
    }

    @Override
    public String describe() {
        return String.format("MEGABYTE, patch %d, global %d x %d layers, local %d x %d layers, context %d bytes", config.patchSize(),
                config.patchSize() * config.globalDim(), config.globalLayers(), config.localDim(), config.localLayers(), seqLen);
    }

    @Override
    public long parameters() {
        return Megabyte.layoutOf(config).parameterCount();
    }

    private double inferenceFlopsPerByte() {
        return FlopAccounting.megabytePerByte(config, seqLen);
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
    public Double plannedPatchSize() {
        return (double) config.patchSize();
    }

    @Override
    public Trainer.Result train(Training t) throws IOException {
        MegabyteTrainer trainer = t.resumable() ? MegabyteTrainer.resume(saved -> t.corpus(), t.runDir(), t.log(), t.stop())
                : MegabyteTrainer.start(config, t.settings(), t.corpus(), t.dataSource(), t.runDir(), t.log(), t.stop());
        return trainer.run();
    }

    @Override
    public Evaluation evaluate(Path runDir, CorpusSource heldOut, boolean patchHistogram) {
        Megabyte m = ModelDirectory.of(runDir).loadMegabyte();
        MegabyteEvaluator.Result r = new MegabyteEvaluator(m, settings.batchSize(), seqLen).evaluate(heldOut);
        return new Evaluation(r.bitsPerByte(), r.bytes(), inferenceFlopsPerByte(), (double) config.patchSize(), null);
    }
}

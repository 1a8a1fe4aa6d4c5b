package dev.patchwork.bench;

import dev.patchwork.data.BltBatch;
import dev.patchwork.data.PackedSequence;
import dev.patchwork.eval.FlopAccounting;
import dev.patchwork.model.Blt;
import dev.patchwork.model.BltConfig;
import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.train.AdamW;
import dev.patchwork.train.BltReplicas;
import dev.patchwork.train.GradientClipping;
import dev.patchwork.train.ReplicaTeam;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Times full training steps (forward, loss, backward, clipping, AdamW) of a BLT on random text-like bytes cut into
 * random patches of a given mean size, packed as in training, and reports bytes per second, model FLOP/s by the BLT
 * paper's accounting ({@link FlopAccounting}: 3 × the inference FLOPs per byte) and MFU against the machine's measured
 * FMA peak. The accounting leaves out the patch projections and hash embeddings, so MFU slightly understates the work.
 */
public final class BltTrainBench {
    private BltTrainBench() {}

    /**
     * @param seqLen    patches per row
     * @param patchSize mean patch length (patch lengths are drawn uniformly from 1 … 2·patchSize − 1)
     */
    public static Map<String, Object> run(BltConfig config, int batch, int seqLen, double patchSize, int warmupSteps, int steps) {
        return run(config, batch, seqLen, patchSize, warmupSteps, steps, false);
    }

    /** As above; {@code profile} adds {@code profile}: time per layer kind of {@code steps} more steps. */
    public static Map<String, Object> run(BltConfig config, int batch, int seqLen, double patchSize, int warmupSteps,
                                          int steps, boolean profile) {
        if (!(patchSize >= 1)) throw new IllegalArgumentException("the mean patch size must be >= 1, got " + patchSize);
        Blt model = Blt.initialise(config);
        ParameterBuffer grads = ParameterBuffer.allocate(model.layout());
        AdamW opt = new AdamW(model.layout(), 0.9, 0.95, 1e-8, 0.1);
        BltBatch b = randomBatch(batch, seqLen, patchSize, config.maxEncoderSeqLength(), new SplittableRandom(1));
        long patches = 0;
        for (int[] l : b.lengths()) patches += l.length;
        BltReplicas replicas = new BltReplicas(model, ReplicaTeam.replicasFor(batch)); // as the trainer runs a step
        Runnable step = () -> {
            grads.zero();
            replicas.forwardLoss(b);
            replicas.backward(grads);
            TrainStepTiming.optimizerStep(() -> {
                GradientClipping.clip(grads, 1.0);
                opt.step(model.parameters(), grads, 1e-4);
            });
        };
        TrainStepTiming.Timing timing = TrainStepTiming.time(warmupSteps, steps, step);
        double meanPatch = (b.targets() + (double) batch) / patches, context = (double) b.targets() / batch;
        double flopsPerByte = FlopAccounting.train(FlopAccounting.bltPerByte(config, context, meanPatch));
        long hash = 0;
        for (var v : model.layout().views()) if (v.name().startsWith("encoder_hash_tok_embedding.")) hash += v.size();
        Map<String, Object> m = TrainStepTiming.header();
        m.put("model", "blt");
        m.put("parameters", model.layout().parameterCount());
        m.put("hash_parameters", hash);
        m.put("batch_size", batch);
        m.put("seq_len_patches", seqLen);
        m.put("replicas", replicas.replicas());
        m.put("bytes_per_row", context);
        m.put("mean_patch_size", meanPatch);
        TrainStepTiming.putThroughput(m, timing.steps(), timing.medianSeconds(), b.targets(), flopsPerByte);
        if (profile) m.put("profile", TrainStepTiming.profile(steps, step));
        return m;
    }

    /** Rows of {@code seqLen} random patches (the first holding one byte) over printable ASCII, packed as in training. */
    static BltBatch randomBatch(int batch, int seqLen, double patchSize, int maxInputs, SplittableRandom r) {
        int spread = (int) Math.round(2 * patchSize - 1);
        List<PackedSequence> rows = new ArrayList<>(batch);
        for (int b = 0; b < batch; b++) {
            int[] lengths = new int[seqLen];
            lengths[0] = 1;
            int total = 1;
            for (int p = 1; p < seqLen; p++) total += lengths[p] = 1 + r.nextInt(Math.max(1, spread));
            int[] tokens = new int[total];
            tokens[0] = 1; // BOS
            for (int i = 1; i < total; i++) tokens[i] = 4 + 32 + r.nextInt(95);
            rows.add(PackedSequence.reference(tokens, lengths, maxInputs));
        }
        return BltBatch.of(rows);
    }
}

package dev.patchwork.train;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * Everything about a training run except the model: optimiser (the reference's {@code OptimArgs} names), batch shape,
 * step counts and the schedule of evaluations and checkpoints. Missing fields take the defaults below; CLI flags
 * override them.
 */
public record TrainSettings(
        @JsonProperty("steps") Integer steps,
        @JsonProperty("batch_size") Integer batchSize,
        @JsonProperty("seq_len") Integer seqLen,
        @JsonProperty("lr") Double lr,
        @JsonProperty("lr_min_ratio") Double lrMinRatio,
        @JsonProperty("warmup") Integer warmup,
        @JsonProperty("scheduler") String scheduler,
        @JsonProperty("beta1") Double beta1,
        @JsonProperty("beta2") Double beta2,
        @JsonProperty("epsilon") Double epsilon,
        @JsonProperty("weight_decay") Double weightDecay,
        @JsonProperty("clip") Double clip,
        @JsonProperty("eval_every") Integer evalEvery,
        @JsonProperty("eval_batches") Integer evalBatches,
        @JsonProperty("checkpoint_every") Integer checkpointEvery,
        @JsonProperty("log_every") Integer logEvery,
        @JsonProperty("seed") Long seed,
        @JsonProperty("eval_fraction") Double evalFraction) {

    public TrainSettings {
        steps = or(steps, 2000);
        batchSize = or(batchSize, 12);
        lr = or(lr, 1e-3);
        lrMinRatio = or(lrMinRatio, 0.1);
        warmup = or(warmup, 100);
        scheduler = scheduler == null ? "cosine" : scheduler;
        beta1 = or(beta1, 0.9);
        beta2 = or(beta2, 0.95);
        epsilon = or(epsilon, 1e-8);
        weightDecay = or(weightDecay, 0.1);
        clip = or(clip, 1.0);
        evalEvery = or(evalEvery, 250);
        evalBatches = or(evalBatches, 20);
        checkpointEvery = or(checkpointEvery, 500);
        logEvery = or(logEvery, 10);
        seed = seed == null ? 1337L : seed;
        evalFraction = or(evalFraction, 0.1);
        if (steps < 1) throw new IllegalArgumentException("steps must be >= 1, got " + steps);
        if (batchSize < 1) throw new IllegalArgumentException("batch_size must be >= 1, got " + batchSize);
        if (seqLen != null && seqLen < 2) throw new IllegalArgumentException("seq_len must be >= 2, got " + seqLen);
        if (!(lr > 0)) throw new IllegalArgumentException("lr must be > 0, got " + lr);
        if (!(beta1 >= 0 && beta1 < 1)) throw new IllegalArgumentException("beta1 must be in [0, 1), got " + beta1);
        if (!(beta2 >= 0 && beta2 < 1)) throw new IllegalArgumentException("beta2 must be in [0, 1), got " + beta2);
        if (!(epsilon > 0)) throw new IllegalArgumentException("epsilon must be > 0, got " + epsilon);
        if (!(weightDecay >= 0)) throw new IllegalArgumentException("weight_decay must be >= 0, got " + weightDecay);
        if (!(clip >= 0)) throw new IllegalArgumentException("clip must be >= 0 (0 disables clipping), got " + clip);
        if (evalEvery < 0 || checkpointEvery < 0 || logEvery < 1 || evalBatches < 1)
            throw new IllegalArgumentException("eval_every and checkpoint_every must be >= 0, log_every and eval_batches >= 1");
        if (!(evalFraction > 0 && evalFraction < 1)) throw new IllegalArgumentException("eval_fraction must be in (0, 1), got " + evalFraction);
        new LrSchedule(scheduler, warmup, steps, lrMinRatio); // validates scheduler, warmup, lr_min_ratio
    }

    private static <T> T or(T v, T dflt) {
        return v == null ? dflt : v;
    }

    public static TrainSettings defaults() {
        return new TrainSettings(null, null, null, null, null, null, null, null, null, null, null, null, null, null,
                null, null, null, null);
    }

    /** The window length of a run: {@code seq_len} if set, else the model's {@code max_seqlen}. */
    public int seqLenOr(int modelMaxSeqlen) {
        return seqLen != null ? seqLen : modelMaxSeqlen;
    }

    public LrSchedule schedule() {
        return new LrSchedule(scheduler, warmup, steps, lrMinRatio);
    }
}

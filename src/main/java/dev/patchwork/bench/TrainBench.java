package dev.patchwork.bench;

import dev.patchwork.model.ByteLm;
import dev.patchwork.model.ByteLmConfig;
import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.train.AdamW;
import dev.patchwork.train.GradientClipping;
import dev.patchwork.train.ReplicaTeam;
import dev.patchwork.train.WindowReplicas;

import java.util.Map;
import java.util.SplittableRandom;

/**
 * Times full training steps (forward, loss, backward, clipping, AdamW) of a byte LM on random bytes and reports bytes
 * per second, model FLOP/s and MFU against the machine's measured FMA peak.
 */
public final class TrainBench {
    private TrainBench() {}

    public static Map<String, Object> run(ByteLmConfig config, int batch, int seqLen, int warmupSteps, int steps) {
        return run(config, batch, seqLen, warmupSteps, steps, false);
    }

    /** As above; {@code profile} adds {@code profile}: time per layer kind of {@code steps} more steps. */
    public static Map<String, Object> run(ByteLmConfig config, int batch, int seqLen, int warmupSteps, int steps,
                                          boolean profile) {
        ByteLm model = ByteLm.initialise(config);
        ParameterBuffer grads = ParameterBuffer.allocate(model.layout());
        AdamW opt = new AdamW(model.layout(), 0.9, 0.95, 1e-8, 0.1);
        int[] x = new int[batch * seqLen], y = new int[batch * seqLen];
        SplittableRandom r = new SplittableRandom(1);
        for (int i = 0; i < x.length; i++) {
            x[i] = 4 + r.nextInt(96) + 32; // printable ASCII range, like text
            y[i] = 4 + r.nextInt(96) + 32;
        }
        WindowReplicas replicas = new WindowReplicas(model, ReplicaTeam.replicasFor(batch)); // as the trainers run a step
        Runnable step = () -> {
            grads.zero();
            replicas.forwardLoss(x, y, batch, seqLen);
            replicas.backward(grads);
            TrainStepTiming.optimizerStep(() -> {
                GradientClipping.clip(grads, 1.0);
                opt.step(model.parameters(), grads, 1e-4);
            });
        };
        TrainStepTiming.Timing timing = TrainStepTiming.time(warmupSteps, steps, step);
        Map<String, Object> m = TrainStepTiming.header();
        m.put("parameters", model.layout().parameterCount());
        m.put("batch_size", batch);
        m.put("seq_len", seqLen);
        m.put("replicas", replicas.replicas());
        TrainStepTiming.putThroughput(m, timing.steps(), timing.medianSeconds(), batch * seqLen, ModelFlops.trainPerToken(config, seqLen));
        if (profile) m.put("profile", TrainStepTiming.profile(steps, step));
        return m;
    }
}

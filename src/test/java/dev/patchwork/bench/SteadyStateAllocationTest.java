package dev.patchwork.bench;

import java.lang.management.ManagementFactory;
import java.util.SplittableRandom;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.patchwork.data.BltBatch;
import dev.patchwork.model.Blt;
import dev.patchwork.model.BltConfig;
import dev.patchwork.model.ByteLm;
import dev.patchwork.model.ByteLmConfig;
import dev.patchwork.tensor.Parallel;
import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.train.AdamW;
import dev.patchwork.train.GradientClipping;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A training step in the steady state allocates (almost) nothing, on any thread of the team: the bytes allocated by
 * the calling thread and every {@link Parallel} worker ({@code ThreadMXBean.getThreadAllocatedBytes}) over several
 * steps after warm-up stay under a small bound per step (see the bounds below).
 *
 * <p>Why a warm-up loop rather than a fixed number of steps: until C2 has compiled a Vector API loop it runs with
 * boxed vectors and allocates heavily, and when that happens depends on the machine's load. So the test runs steps
 * in rounds until one round stays within the bound, for at most {@link #WARMUP_NANOS}, and fails with the last
 * round's figure when none did. The bound allows for the odd object of JIT deoptimisation or class loading in a
 * round, far below one activation buffer (tens of KB); a per-region or per-call object in a step's thousands of
 * kernel calls exceeds it.
 */
class SteadyStateAllocationTest {
    /*
     * Bytes per step allowed on all team threads together. What is left in the steady state is a few small capturing
     * lambdas per layer call (40–80 bytes each: attention's per-call work items, SwiGLU's row loops, and in the BLT
     * the cross-attention and patch code), measured at about 0.9 KB per step of the byte LM below and 11 KB of the BLT,
     * independent of batch and sequence length; activations, scratch, parallel regions, norms, RoPE, embeddings and
     * the optimiser allocate nothing. Before this test a step allocated 0.7–4 MB (boxed vectors where the JIT did not
     * inline a small vector helper, per-call arrays, a record per parallel region, a lambda per call).
     */
    static final long BYTE_LM_BOUND_PER_STEP = 2048;
    static final long BLT_BOUND_PER_STEP = 16384;
    private static final int STEPS_PER_ROUND = 8;
    private static final long WARMUP_NANOS = 60_000_000_000L;

    @Test
    void byteLmTrainingStepDoesNotAllocate() throws Exception {
        // Big enough that matmuls, attention and norms take the parallel paths (more than 2^20 multiply-adds).
        ByteLmConfig c = ByteLmConfig.fromJson(new ObjectMapper().readTree(
                "{\"dim\": 64, \"n_layers\": 2, \"n_heads\": 4, \"max_seqlen\": 64, \"multiple_of\": 32}"), "test");
        ByteLm model = ByteLm.initialise(c);
        ParameterBuffer grads = ParameterBuffer.allocate(model.layout());
        AdamW opt = new AdamW(model.layout(), 0.9, 0.95, 1e-8, 0.1);
        int B = 8, T = 64;
        int[] x = new int[B * T], y = new int[B * T];
        SplittableRandom r = new SplittableRandom(3);
        for (int i = 0; i < x.length; i++) {
            x[i] = 36 + r.nextInt(95);
            y[i] = 36 + r.nextInt(95);
        }
        assertSteadyStateAllocationFree("byte LM", BYTE_LM_BOUND_PER_STEP, () -> {
            grads.zero();
            model.forward(x, B, T);
            model.loss(y, null, true);
            model.backward(grads);
            GradientClipping.clip(grads, 1.0);
            opt.step(model.parameters(), grads, 1e-4);
        });
    }

    @Test
    void bltTrainingStepDoesNotAllocate() throws Exception {
        BltConfig c = BltConfig.fromJson(new ObjectMapper().readTree("""
                {"dim_global": 64, "n_layers_global": 2, "n_heads_global": 4,
                 "dim_local_encoder": 32, "n_layers_local_encoder": 1, "n_heads_local_encoder": 2,
                 "dim_local_decoder": 32, "n_layers_local_decoder": 1, "n_heads_local_decoder": 2,
                 "cross_attn_k": 2, "cross_attn_nheads": 2, "cross_attn_all_layers_decoder": true,
                 "encoder_hash_byte_group_size": [3, 4], "encoder_hash_byte_group_nb_functions": 1,
                 "encoder_hash_byte_group_vocab": 512, "local_attention_window_len": 64, "max_seqlen": 32,
                 "max_encoder_seq_length": 256, "multiple_of": 32}"""), "test");
        Blt model = Blt.initialise(c);
        ParameterBuffer grads = ParameterBuffer.allocate(model.layout());
        AdamW opt = new AdamW(model.layout(), 0.9, 0.95, 1e-8, 0.1);
        BltBatch b = BltTrainBench.randomBatch(4, 32, 4.5, c.maxEncoderSeqLength(), new SplittableRandom(4));
        assertSteadyStateAllocationFree("BLT", BLT_BOUND_PER_STEP, () -> {
            grads.zero();
            model.forward(b.x(), b.rows(), b.bytes(), b.lengths());
            model.loss(b.y(), null, true);
            model.backward(grads);
            GradientClipping.clip(grads, 1.0);
            opt.step(model.parameters(), grads, 1e-4);
        });
    }

    private static void assertSteadyStateAllocationFree(String what, long bound, Runnable step) {
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        assertTrue(mx.isThreadAllocatedMemorySupported() && mx.isThreadAllocatedMemoryEnabled(),
                "this JVM cannot count allocated bytes per thread");
        long[] ids = team();
        long deadline = System.nanoTime() + WARMUP_NANOS, perStep;
        int rounds = 0;
        do {
            long before = allocated(mx, ids);
            for (int s = 0; s < STEPS_PER_ROUND; s++) step.run();
            perStep = (allocated(mx, ids) - before) / STEPS_PER_ROUND;
            rounds++;
        } while (perStep > bound && System.nanoTime() < deadline);
        System.out.println(what + ": " + perStep + " bytes allocated per training step after " + rounds + " rounds");
        assertTrue(perStep <= bound, what + " training step allocated " + perStep
                + " bytes per step on the team's threads after " + rounds + " rounds of warm-up (bound "
                + bound + ")");
    }

    /** The calling thread and every worker of the team. */
    private static long[] team() {
        long[] workers = Parallel.workerThreadIds(), ids = new long[workers.length + 1];
        ids[0] = Thread.currentThread().threadId();
        System.arraycopy(workers, 0, ids, 1, workers.length);
        return ids;
    }

    /** Sum over threads, one id at a time (the array form of the call would itself allocate a result array). */
    private static long allocated(com.sun.management.ThreadMXBean mx, long[] ids) {
        long sum = 0;
        for (long id : ids) sum += mx.getThreadAllocatedBytes(id);
        return sum;
    }
}

package dev.patchwork.layers;

import dev.patchwork.model.ByteLm;
import dev.patchwork.model.ByteLmConfig;
import dev.patchwork.oracle.FiniteDifferences;
import dev.patchwork.oracle.NaiveByteLm;
import dev.patchwork.oracle.OracleParams;
import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.tensor.ParameterLayout;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.SplittableRandom;

import static dev.patchwork.layers.GradientFixtures.randomize;
import static dev.patchwork.oracle.GradientAssertions.FORWARD_REL;
import static dev.patchwork.oracle.GradientAssertions.assertForwardMatches;
import static dev.patchwork.oracle.GradientAssertions.assertGradientMatches;
import static dev.patchwork.oracle.GradientAssertions.forwardMatches;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

/**
 * The whole byte LM against the double oracle: logits, mean cross-entropy (PAD targets ignored), the gradient of
 * every parameter through {@code forward → loss → backward}, and KV-cache decoding position by position.
 */
class ByteLmGradientCheckTest {
    static final int VOCAB = 20, EOS = 2, PAD = -1;

    /** dim 8, 2 layers, 2 heads of 4, SwiGLU hidden 24 (multiple_of 8), a 20-id vocabulary. */
    static ByteLmConfig config(int kvHeads, Integer window, String biasType, int maxSeqlen) {
        return new ByteLmConfig(8, 2, null, 2, kvHeads, null, 8, 1e-5, 10000.0, null, "disabled", maxSeqlen, 1L,
                VOCAB, false, window, biasType, null, EOS, null, null, null);
    }

    static ByteLm randomModel(ByteLmConfig c, long seed) {
        ParameterBuffer p = ParameterBuffer.allocate(ByteLm.layoutOf(c));
        randomize(p, new SplittableRandom(seed));
        return ByteLm.withParameters(c, p);
    }

    /** Ids without EOS except at {@code eosAt}. */
    static int[] ids(SplittableRandom r, int n, int... eosAt) {
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) ids[i] = 3 + r.nextInt(VOCAB - 3);
        for (int i : eosAt) ids[i] = EOS;
        return ids;
    }

    @Test
    void lossAndEveryParameterGradientWithWindowEosGqaAndPad() {
        checkEndToEnd(config(1, 3, "local_block_causal", 16), 21);
    }

    @Test
    void lossAndEveryParameterGradientWithPlainCausalAttention() {
        checkEndToEnd(config(2, null, "causal", 16), 22);
    }

    private static void checkEndToEnd(ByteLmConfig c, long seed) {
        var r = new SplittableRandom(seed);
        int B = 2, T = 7;
        ByteLm model = randomModel(c, seed);
        int[] ids = ids(r, B * T, 3, T + 5);
        int[] targets = new int[B * T];
        for (int i = 0; i < targets.length; i++) targets[i] = r.nextInt(VOCAB);
        targets[5] = PAD;
        targets[T + 1] = PAD;

        float[] logits = model.forward(ids, B, T).clone();
        OracleParams op = OracleParams.of(model.parameters());
        assertForwardMatches("logits", logits, NaiveByteLm.logits(c, op, ids, B, T));

        ParameterBuffer grads = ParameterBuffer.allocate(model.layout());
        double meanLoss = model.loss(targets, null, true) / (B * T - 2);
        double oracleLoss = NaiveByteLm.meanCrossEntropy(NaiveByteLm.logits(c, op, ids, B, T), VOCAB, targets);
        assertEquals(oracleLoss, meanLoss, FORWARD_REL * oracleLoss, "mean cross-entropy");
        // the check must see PAD handling: counting the PAD positions (as id 0) would change the loss
        int[] padCounted = targets.clone();
        padCounted[5] = padCounted[T + 1] = 0;
        assertNotEquals(NaiveByteLm.meanCrossEntropy(NaiveByteLm.logits(c, op, ids, B, T), VOCAB, padCounted),
                meanLoss, 1e-3);

        model.backward(grads);
        for (ParameterLayout.View v : model.layout().views()) {
            double[] numeric = FiniteDifferences.gradient(op.get(v.name()),
                    () -> NaiveByteLm.meanCrossEntropy(NaiveByteLm.logits(c, op, ids, B, T), VOCAB, targets));
            assertGradientMatches(c.attnBiasType() + " ∂loss/∂" + v.name(), grads.toArray(v), numeric);
        }
    }

    @Test
    void windowAndEosChangeTheLogits() {
        // guards the test data above: the oracle under plain causal attention must not match the windowed model
        ByteLmConfig c = config(1, 3, "local_block_causal", 16);
        ByteLm model = randomModel(c, 21);
        int[] ids = ids(new SplittableRandom(3), 7, 3);
        float[] logits = model.forward(ids, 1, 7).clone();
        OracleParams op = OracleParams.of(model.parameters());
        assertFalse(forwardMatches(logits, NaiveByteLm.logits(config(1, null, "causal", 16), op, ids, 1, 7)));
        assertFalse(forwardMatches(logits, NaiveByteLm.logits(config(1, 3, "causal", 16), op, ids, 1, 7)));
        assertFalse(forwardMatches(logits, NaiveByteLm.logits(config(1, null, "local_block_causal", 16), op, ids, 1, 7)));
    }

    @Test
    void kvCacheDecodingMatchesTheOracleWithAWindowShorterThanTheSequenceAndEos() {
        ByteLmConfig c = config(1, 3, "local_block_causal", 16);
        ByteLm model = randomModel(c, 23);
        int T = 12;
        int[] ids = ids(new SplittableRandom(4), T, 5, 6, 10); // two EOS in a row: a one-token segment
        double[] expected = NaiveByteLm.logits(c, OracleParams.of(model.parameters()), ids, 1, T);
        ByteLm.Session s = model.newSession(T);
        for (int t = 0; t < T; t++) {
            float[] step = s.step(ids[t]);
            assertForwardMatches("decoding position " + t, step,
                    Arrays.copyOfRange(expected, t * VOCAB, (t + 1) * VOCAB));
        }
        assertEquals(T, s.position());
    }
}

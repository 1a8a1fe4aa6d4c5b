package dev.patchwork.layers;

import dev.patchwork.model.Megabyte;
import dev.patchwork.model.MegabyteConfig;
import dev.patchwork.oracle.FiniteDifferences;
import dev.patchwork.oracle.NaiveByteLm;
import dev.patchwork.oracle.NaiveMegabyte;
import dev.patchwork.oracle.OracleParams;
import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.tensor.ParameterLayout;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static dev.patchwork.layers.GradientFixtures.randomize;
import static dev.patchwork.oracle.GradientAssertions.FORWARD_REL;
import static dev.patchwork.oracle.GradientAssertions.assertForwardMatches;
import static dev.patchwork.oracle.GradientAssertions.assertGradientMatches;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** MEGABYTE against the double oracle written from the spec: logits, mean cross-entropy and every parameter's gradient. */
class MegabyteGradientCheckTest {
    static final int VOCAB = 20;

    /** P, D_G 4 (global width 4P, 2 heads), local width 8 (2 heads), 2 layers each, a 20-id vocabulary. */
    static MegabyteConfig config(int patchSize) {
        return new MegabyteConfig(patchSize, 4, 2, 2, 8, 2, 2, null, 8, 4 * patchSize, VOCAB, 1e-5, 10000.0, 1L);
    }

    @Test
    void lossAndEveryParameterGradientWithPatchesOfThree() {
        check(config(3), 31);
    }

    @Test
    void lossAndEveryParameterGradientWithPatchesOfOneByte() {
        check(config(1), 32); // P = 1: no local shift at all, every byte its own patch
    }

    private static void check(MegabyteConfig c, long seed) {
        var r = new SplittableRandom(seed);
        int B = 2, T = 3 * c.patchSize();
        ParameterBuffer p = ParameterBuffer.allocate(Megabyte.layoutOf(c));
        randomize(p, r);
        Megabyte model = Megabyte.withParameters(c, p);
        int[] ids = new int[B * T];
        for (int i = 0; i < ids.length; i++) ids[i] = r.nextInt(VOCAB);
        int[] targets = ids.clone();
        targets[1] = -1; // ignored

        float[] logits = model.forward(ids, B, T).clone();
        OracleParams op = OracleParams.of(p);
        assertForwardMatches("logits", logits, NaiveMegabyte.logits(c, op, ids, B, T));
        double meanLoss = model.loss(targets, null, true) / (B * T - 1);
        double oracleLoss = NaiveByteLm.meanCrossEntropy(NaiveMegabyte.logits(c, op, ids, B, T), VOCAB, targets);
        assertEquals(oracleLoss, meanLoss, FORWARD_REL * oracleLoss, "mean cross-entropy");

        ParameterBuffer grads = ParameterBuffer.allocate(model.layout());
        model.backward(grads);
        for (ParameterLayout.View v : model.layout().views()) {
            if (c.patchSize() == 1 && (v.name().equals("local_embeddings.weight") || v.name().matches("local\\.layers\\.\\d\\.attention\\.w[qk]\\.weight"))) {
                // one byte per patch: no byte precedes another inside a patch (the table is unused) and the local
                // attention sees only its own position (softmax = 1 whatever q and k are)
                for (float x : grads.toArray(v)) assertEquals(0f, x, 1e-7, v.name() + " gets no gradient when P = 1");
                continue;
            }
            double[] numeric = FiniteDifferences.gradient(op.get(v.name()),
                    () -> NaiveByteLm.meanCrossEntropy(NaiveMegabyte.logits(c, op, ids, B, T), VOCAB, targets));
            assertGradientMatches("P=" + c.patchSize() + " ∂loss/∂" + v.name(), grads.toArray(v), numeric);
        }
    }
}

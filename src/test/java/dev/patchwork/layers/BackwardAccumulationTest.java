package dev.patchwork.layers;

import dev.patchwork.model.ByteLm;
import dev.patchwork.model.ByteLmConfig;
import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.tensor.ParameterLayout;
import dev.patchwork.tensor.RopeTable;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.SplittableRandom;

import static dev.patchwork.layers.GradientFixtures.gaussian;
import static dev.patchwork.layers.GradientFixtures.randomize;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Backward passes add into the gradient buffer (so micro-batches accumulate), and each layer's input gradient follows
 * its documented contract: RMSNorm, attention and {@code Linear(accumulate=true)} add into {@code dx}; FeedForward
 * and {@code Linear(accumulate=false)} overwrite it.
 */
class BackwardAccumulationTest {
    /** Two backward passes after one forward give exactly twice the parameter gradient of one (to float rounding). */
    static void assertDoubled(ParameterBuffer once, ParameterBuffer twice) {
        double max = 0;
        for (long i = 0; i < once.floats(); i++) max = Math.max(max, Math.abs(once.get(i)));
        assertTrue(max > 0, "backward produced no gradient at all");
        for (ParameterLayout.View v : once.layout().views())
            for (long i = 0; i < v.size(); i++)
                assertEquals(2.0 * once.get(v, i), twice.get(v, i), 1e-6 * max, v.name() + "[" + i + "]");
    }

    /** {@code dx} after backward into a buffer pre-filled with 1 equals 1 + the gradient into a zero buffer. */
    static void assertAdded(float[] fromZero, float[] fromOne) {
        for (int i = 0; i < fromZero.length; i++) assertEquals(1f + fromZero[i], fromOne[i], 1e-6f, "dx[" + i + "]");
    }

    @Test
    void linearAddsIntoGradientsAndHonoursItsAccumulateFlag() {
        var r = new SplittableRandom(31);
        int rows = 4, in = 6, out = 3;
        var b = ParameterLayout.builder();
        Linear lin = new Linear(b, "w", in, out);
        ParameterBuffer p = ParameterBuffer.allocate(b.build()), g1 = ParameterBuffer.allocate(p.layout()),
                g2 = ParameterBuffer.allocate(p.layout());
        randomize(p, r);
        float[] x = gaussian(r, rows * in), dy = gaussian(r, rows * out);
        float[] dx0 = new float[rows * in], dxNaN = new float[rows * in], dx1 = new float[rows * in];
        Arrays.fill(dxNaN, Float.NaN);
        Arrays.fill(dx1, 1f);
        lin.backward(p, g1, x, dy, dx0, rows, false);
        lin.backward(p, g2, x, dy, dxNaN, rows, false);
        lin.backward(p, g2, x, dy, dx1, rows, true);
        assertDoubled(g1, g2);
        assertEquals(Arrays.toString(dx0), Arrays.toString(dxNaN), "accumulate=false must overwrite dx");
        assertAdded(dx0, dx1);
    }

    @Test
    void rmsNormAddsIntoGradientsAndIntoDx() {
        var r = new SplittableRandom(32);
        int rows = 3, dim = 7;
        var b = ParameterLayout.builder();
        RmsNorm norm = new RmsNorm(b, "n", dim, 1e-5);
        ParameterBuffer p = ParameterBuffer.allocate(b.build()), g1 = ParameterBuffer.allocate(p.layout()),
                g2 = ParameterBuffer.allocate(p.layout());
        randomize(p, r);
        float[] x = gaussian(r, rows * dim), dy = gaussian(r, rows * dim), y = new float[rows * dim];
        norm.forward(p, x, y, rows);
        float[] dx0 = new float[rows * dim], dx1 = new float[rows * dim];
        Arrays.fill(dx1, 1f);
        norm.backward(p, g1, x, dy, dx0, rows);
        norm.backward(p, g2, x, dy, dx1, rows);
        norm.backward(p, g2, x, dy, new float[rows * dim], rows);
        assertDoubled(g1, g2);
        assertAdded(dx0, dx1);
    }

    @Test
    void embeddingAddsIntoGradients() {
        var r = new SplittableRandom(33);
        int[] ids = {2, 0, 2, 2};
        var b = ParameterLayout.builder();
        Embedding emb = new Embedding(b, "e", 4, 5);
        ParameterBuffer g1 = ParameterBuffer.allocate(b.build()), g2 = ParameterBuffer.allocate(g1.layout());
        float[] dy = gaussian(r, ids.length * 5);
        emb.backward(g1, ids, 0, ids.length, dy);
        emb.backward(g2, ids, 0, ids.length, dy);
        emb.backward(g2, ids, 0, ids.length, dy);
        assertDoubled(g1, g2);
    }

    @Test
    void attentionAddsIntoGradientsAndIntoDx() {
        var r = new SplittableRandom(34);
        int B = 2, T = 5, dim = 8, hd = 4;
        int[] ids = {5, 2, 6, 7, 8, 2, 9, 10, 11, 12};
        var b = ParameterLayout.builder();
        SelfAttention att = new SelfAttention(b, "a.", dim, 2, 1, hd, new RopeTable(hd, T, 500.0));
        ParameterBuffer p = ParameterBuffer.allocate(b.build()), g1 = ParameterBuffer.allocate(p.layout()),
                g2 = ParameterBuffer.allocate(p.layout());
        randomize(p, r);
        AttentionMask mask = new AttentionMask(B * T);
        mask.causal(ids, B, T, 3, 2);
        float[] x = gaussian(r, B * T * dim), dy = gaussian(r, B * T * dim), y = new float[B * T * dim];
        att.forward(p, x, y, B, T, mask, false);
        float[] dx0 = new float[x.length], dx1 = new float[x.length];
        Arrays.fill(dx1, 1f);
        att.backward(p, g1, x, dy, dx0);
        att.backward(p, g2, x, dy, dx1);
        att.backward(p, g2, x, dy, new float[x.length]);
        assertDoubled(g1, g2);
        assertAdded(dx0, dx1);
    }

    @Test
    void feedForwardAddsIntoGradientsAndOverwritesDx() {
        var r = new SplittableRandom(35);
        int rows = 3, dim = 6, hidden = 9;
        var b = ParameterLayout.builder();
        FeedForward ffn = new FeedForward(b, "f.", dim, hidden);
        ParameterBuffer p = ParameterBuffer.allocate(b.build()), g1 = ParameterBuffer.allocate(p.layout()),
                g2 = ParameterBuffer.allocate(p.layout());
        randomize(p, r);
        float[] x = gaussian(r, rows * dim), dy = gaussian(r, rows * dim), y = new float[rows * dim];
        ffn.forward(p, x, y, rows, false);
        float[] dx0 = new float[x.length], dxNaN = new float[x.length];
        Arrays.fill(dxNaN, Float.NaN);
        ffn.backward(p, g1, x, dy, dx0);
        ffn.backward(p, g2, x, dy, dxNaN);
        ffn.backward(p, g2, x, dy, new float[x.length]);
        assertDoubled(g1, g2);
        assertEquals(Arrays.toString(dx0), Arrays.toString(dxNaN), "feed-forward backward must overwrite dx");
    }

    @Test
    void transformerBlockAndByteLmAddIntoGradients() {
        var r = new SplittableRandom(36);
        int B = 2, T = 4, dim = 8;
        var b = ParameterLayout.builder();
        TransformerBlock block = new TransformerBlock(b, "l.", dim, 2, 2, 4, 12, 1e-5, new RopeTable(4, T, 500.0));
        ParameterBuffer p = ParameterBuffer.allocate(b.build()), g1 = ParameterBuffer.allocate(p.layout()),
                g2 = ParameterBuffer.allocate(p.layout());
        randomize(p, r);
        AttentionMask mask = new AttentionMask(B * T);
        mask.causal(null, B, T, 0, -1);
        float[] x = gaussian(r, B * T * dim), dy = gaussian(r, B * T * dim);
        block.forward(p, x, B, T, mask);
        float[] dx = block.backward(p, g1, dy).clone();
        block.backward(p, g2, dy);
        float[] dxAgain = block.backward(p, g2, dy);
        assertDoubled(g1, g2);
        assertEquals(Arrays.toString(dx), Arrays.toString(dxAgain), "block dx must not depend on earlier backward calls");

        ByteLmConfig c = ByteLmGradientCheckTest.config(1, 3, "local_block_causal", 8);
        ByteLm model = ByteLmGradientCheckTest.randomModel(c, 37);
        int[] ids = ByteLmGradientCheckTest.ids(r, 8, 2), targets = ByteLmGradientCheckTest.ids(r, 8);
        targets[3] = -1;
        ParameterBuffer m1 = ParameterBuffer.allocate(model.layout()), m2 = ParameterBuffer.allocate(model.layout());
        model.forward(ids, 2, 4);
        model.loss(targets, null, true);
        model.backward(m1);
        model.backward(m2);
        model.backward(m2);
        assertDoubled(m1, m2);
    }
}

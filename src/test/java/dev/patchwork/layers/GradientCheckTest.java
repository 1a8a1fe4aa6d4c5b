package dev.patchwork.layers;

import dev.patchwork.oracle.NaiveLayers;
import dev.patchwork.oracle.OracleMask;
import dev.patchwork.oracle.OracleParams;
import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.tensor.ParameterLayout;
import dev.patchwork.tensor.RopeTable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.SplittableRandom;

import static dev.patchwork.layers.GradientFixtures.checkLayer;
import static dev.patchwork.layers.GradientFixtures.gaussian;
import static dev.patchwork.layers.GradientFixtures.randomize;
import static dev.patchwork.oracle.GradientAssertions.forwardMatches;
import static org.junit.jupiter.api.Assertions.assertFalse;

/**
 * Every layer's forward against the double-precision oracle and its backward against central finite differences of
 * that oracle, on tiny ragged shapes. Loss {@code sum(out ⊙ G)} for a random G, so every output entry matters.
 */
class GradientCheckTest {
    static final int EOS = 2;
    static final double THETA = 500.0; // small enough that every RoPE pair turns visibly over 7 positions

    @Test
    void linear() {
        var r = new SplittableRandom(11);
        int rows = 7, in = 9, out = 5;
        var b = ParameterLayout.builder();
        Linear lin = new Linear(b, "proj.weight", in, out);
        ParameterBuffer p = ParameterBuffer.allocate(b.build());
        randomize(p, r);
        float[] y = new float[rows * out], dx = new float[rows * in];
        checkLayer("linear", p, gaussian(r, rows * in), new GradientFixtures.FloatLayer() {
            float[] x;

            public float[] forward(float[] x) {
                this.x = x;
                lin.forward(p, x, y, rows);
                return y;
            }

            public float[] backward(ParameterBuffer g, float[] dOut) {
                lin.backward(p, g, x, dOut, dx, rows, false);
                return dx;
            }
        }, (op, x) -> NaiveLayers.linear(x, rows, in, op.get("proj.weight"), out), r);
    }

    @Test
    void rmsNorm() {
        var r = new SplittableRandom(12);
        int rows = 5, dim = 11;
        double eps = 1e-5;
        var b = ParameterLayout.builder();
        RmsNorm norm = new RmsNorm(b, "norm.weight", dim, eps);
        ParameterBuffer p = ParameterBuffer.allocate(b.build());
        randomize(p, r);
        float[] y = new float[rows * dim];
        checkLayer("rmsnorm", p, gaussian(r, rows * dim), new GradientFixtures.FloatLayer() {
            float[] x;

            public float[] forward(float[] x) {
                this.x = x;
                norm.forward(p, x, y, rows);
                return y;
            }

            public float[] backward(ParameterBuffer g, float[] dOut) {
                float[] dx = new float[rows * dim];
                norm.backward(p, g, x, dOut, dx, rows);
                return dx;
            }
        }, (op, x) -> NaiveLayers.rmsNorm(x, rows, dim, op.get("norm.weight"), eps), r);
    }

    @Test
    void embeddingWithRepeatedIds() {
        var r = new SplittableRandom(13);
        int vocab = 6, dim = 5;
        int[] ids = {3, 1, 3, 0, 3, 5, 1}; // row 3 three times, row 1 twice, row 2 and 4 never
        var b = ParameterLayout.builder();
        Embedding emb = new Embedding(b, "tok.weight", vocab, dim);
        ParameterBuffer p = ParameterBuffer.allocate(b.build());
        randomize(p, r);
        float[] y = new float[ids.length * dim];
        checkLayer("embedding", p, null, new GradientFixtures.FloatLayer() {
            public float[] forward(float[] x) {
                emb.forward(p, ids, 0, ids.length, y);
                return y;
            }

            public float[] backward(ParameterBuffer g, float[] dOut) {
                emb.backward(g, ids, 0, ids.length, dOut);
                return null;
            }
        }, (op, x) -> NaiveLayers.embedding(op.get("tok.weight"), dim, ids), r);
    }

    @Test
    void feedForward() {
        var r = new SplittableRandom(14);
        int rows = 6, dim = 10, hidden = 17;
        var b = ParameterLayout.builder();
        FeedForward ffn = new FeedForward(b, "ffn.", dim, hidden);
        ParameterBuffer p = ParameterBuffer.allocate(b.build());
        randomize(p, r);
        float[] y = new float[rows * dim], dx = new float[rows * dim];
        checkLayer("feed-forward", p, gaussian(r, rows * dim), new GradientFixtures.FloatLayer() {
            float[] x;

            public float[] forward(float[] x) {
                this.x = x;
                ffn.forward(p, x, y, rows, false);
                return y;
            }

            public float[] backward(ParameterBuffer g, float[] dOut) {
                ffn.backward(p, g, x, dOut, dx);
                return dx;
            }
        }, (op, x) -> NaiveLayers.feedForward(x, rows, dim, hidden, op.get("ffn.w1.weight"), op.get("ffn.w3.weight"),
                op.get("ffn.w2.weight")), r);
    }

    /** Token ids of a batch of two rows: random non-EOS ids, plus EOS where {@code eosAt} says (row 0 and row 1). */
    static int[] ids(SplittableRandom r, int B, int T, int... eosAt) {
        int[] ids = new int[B * T];
        for (int i = 0; i < ids.length; i++) ids[i] = 3 + r.nextInt(17);
        for (int i : eosAt) ids[i] = EOS;
        return ids;
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource({
            // case,          B, T, dim, heads, kvHeads, headDim, window, eosSegments
            "causal,          2, 6, 12,  2,     2,       6,       0,      false",
            "window 3,        2, 7, 8,   2,     2,       4,       3,      false",
            "EOS segments,    2, 7, 8,   2,     2,       4,       0,      true",
            "GQA 2:1 window+EOS, 2, 7, 8, 2,    1,       4,       3,      true",
            "GQA 4:2 EOS,     2, 5, 12,  4,     2,       4,       0,      true",
    })
    void selfAttention(String name, int B, int T, int dim, int heads, int kvHeads, int hd, int window, boolean eosSegments) {
        var r = new SplittableRandom(name.hashCode());
        // row 0: EOS mid-row; row 1: EOS first and second-to-last (segments of length 1 and at the row's end)
        int[] ids = ids(r, B, T, 3, T, 2 * T - 2);
        int eosId = eosSegments ? EOS : -1;
        var b = ParameterLayout.builder();
        SelfAttention att = new SelfAttention(b, "attention.", dim, heads, kvHeads, hd, new RopeTable(hd, T, THETA));
        ParameterBuffer p = ParameterBuffer.allocate(b.build());
        randomize(p, r);
        AttentionMask mask = new AttentionMask(B * T);
        mask.causal(ids, B, T, window, eosId);
        boolean[][] dense = OracleMask.causal(ids, B, T, window, eosId);
        var shape = new NaiveLayers.AttentionShape(dim, heads, kvHeads, hd, THETA);
        float[] y = new float[B * T * dim];
        float[] x0 = gaussian(r, B * T * dim);
        GradientFixtures.OracleLayer oracle = (op, x) -> NaiveLayers.selfAttention(x, B, T, shape,
                op.get("attention.wq.weight"), op.get("attention.wk.weight"), op.get("attention.wv.weight"),
                op.get("attention.wo.weight"), dense);
        checkLayer("attention (" + name + ")", p, x0, new GradientFixtures.FloatLayer() {
            float[] x;

            public float[] forward(float[] x) {
                this.x = x;
                att.forward(p, x, y, B, T, mask, false);
                return y;
            }

            public float[] backward(ParameterBuffer g, float[] dOut) {
                float[] dx = new float[x.length];
                att.backward(p, g, x, dOut, dx);
                return dx;
            }
        }, oracle, r);
        if (window > 0 || eosSegments) {
            // the case must exercise its mask: under plain causal attention the oracle's output would differ
            boolean[][] plain = OracleMask.causal(ids, B, T, 0, -1);
            att.forward(p, x0, y, B, T, mask, false);
            OracleParams op = OracleParams.of(p);
            double[] plainOut = NaiveLayers.selfAttention(GradientFixtures.toDouble(x0), B, T, shape,
                    op.get("attention.wq.weight"), op.get("attention.wk.weight"), op.get("attention.wv.weight"),
                    op.get("attention.wo.weight"), plain);
            assertFalse(forwardMatches(y, plainOut), name + ": output does not depend on the window/EOS mask");
        }
    }

    @Test
    void transformerBlockWithWindowEosAndGqa() {
        var r = new SplittableRandom(15);
        int B = 2, T = 6, dim = 8, heads = 2, kvHeads = 1, hd = 4, hidden = 20, window = 3;
        double eps = 1e-5;
        int[] ids = ids(r, B, T, 2, T + 4);
        var b = ParameterLayout.builder();
        TransformerBlock block = new TransformerBlock(b, "layers.0.", dim, heads, kvHeads, hd, hidden, eps,
                new RopeTable(hd, T, THETA));
        ParameterBuffer p = ParameterBuffer.allocate(b.build());
        randomize(p, r);
        AttentionMask mask = new AttentionMask(B * T);
        mask.causal(ids, B, T, window, EOS);
        boolean[][] dense = OracleMask.causal(ids, B, T, window, EOS);
        var shape = new NaiveLayers.AttentionShape(dim, heads, kvHeads, hd, THETA);
        checkLayer("block", p, gaussian(r, B * T * dim), new GradientFixtures.FloatLayer() {
            public float[] forward(float[] x) {
                return block.forward(p, x, B, T, mask);
            }

            public float[] backward(ParameterBuffer g, float[] dOut) {
                return block.backward(p, g, dOut);
            }
        }, (op, x) -> NaiveLayers.block(x, B, T, shape, hidden, eps, op, "layers.0.", dense), r);
    }
}

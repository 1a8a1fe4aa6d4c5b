package dev.patchwork.layers;

import dev.patchwork.tensor.Matmul;
import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.tensor.ParameterLayout;
import dev.patchwork.tensor.WeightOps;
import dev.patchwork.tensor.SwiGluKernel;

/**
 * The SwiGLU feed-forward {@code y = W2·(silu(W1·x) ⊙ W3·x)} with no biases. w1 and w3 are stored adjacently and
 * applied as one matrix multiply whose rows hold {@code [W1·x | W3·x]}.
 */
public final class FeedForward {
    private final ParameterLayout.View w1, w3, w2;
    private final ParameterLayout.View[] w13Parts;
    private final int dim, hidden;
    private float[] h13 = new float[0], gate = new float[0], dh13 = new float[0], dgate = new float[0];
    private int rows;

    public FeedForward(ParameterLayout.Builder layout, String prefix, int dim, int hidden) {
        this.dim = dim;
        this.hidden = hidden;
        w1 = layout.add(prefix + "w1.weight", hidden, dim);
        w3 = layout.addAdjacent(prefix + "w3.weight", hidden, dim);
        w2 = layout.add(prefix + "w2.weight", dim, hidden);
        w13Parts = new ParameterLayout.View[]{w1, w3};
    }

    public int hidden() {
        return hidden;
    }

    private void ensure(int rows) {
        if (gate.length < rows * hidden) {
            h13 = new float[rows * 2 * hidden];
            gate = new float[rows * hidden];
        }
    }

    /** Gradient buffers are allocated by the first backward pass only (inference never needs them). */
    private void ensureGradients(int rows) {
        if (dgate.length < rows * hidden) {
            dh13 = new float[rows * 2 * hidden];
            dgate = new float[rows * hidden];
        }
    }

    /** {@code out[rows, dim] (+)= ffn(x)}. */
    public void forward(ParameterBuffer p, float[] x, float[] out, int rows, boolean accumulate) {
        ensure(rows);
        this.rows = rows;
        WeightOps.xwTFused(h13, 0, x, 0, p, w13Parts, rows, dim, false);
        SwiGluKernel.forward(h13, gate, rows, hidden);
        WeightOps.xwT(out, 0, gate, 0, p, w2, rows, dim, hidden, accumulate);
    }

    /** Adds parameter gradients into {@code g} and writes {@code ∂L/∂x} into {@code dx} (overwriting). */
    public void backward(ParameterBuffer p, ParameterBuffer g, float[] x, float[] dOut, float[] dx) {
        ensureGradients(rows);
        Matmul.dyTx(g.segment(), w2.offset(), dOut, 0, gate, 0, rows, dim, hidden);
        Matmul.dyW(dgate, 0, dOut, 0, p.segment(), p.offset(w2), rows, dim, hidden, false);
        SwiGluKernel.backward(h13, dgate, dh13, rows, hidden);
        Matmul.dyTx(g.segment(), w1.offset(), dh13, 0, x, 0, rows, 2 * hidden, dim);
        Matmul.dyW(dx, 0, dh13, 0, p.segment(), p.offset(w1), rows, 2 * hidden, dim, false);
    }

    /** Reference initialisation: w1/w3 σ = inStd, w2 σ = outStd/factor (truncated at ±3σ). */
    public void init(ParameterBuffer p, java.util.Random rng, double inStd, double outStd, double factor) {
        Init.truncNormal(p, w1, rng, inStd);
        Init.truncNormal(p, w3, rng, inStd);
        Init.truncNormal(p, w2, rng, outStd / factor);
    }
}

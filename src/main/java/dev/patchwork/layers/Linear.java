package dev.patchwork.layers;

import dev.patchwork.tensor.Matmul;
import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.tensor.ParameterLayout;
import dev.patchwork.tensor.WeightOps;

/**
 * A bias-free linear map {@code y = x·Wᵀ} with {@code W[out, in]} (PyTorch's layout, so checkpoint tensors load as is).
 * Stateless: the caller keeps the input for the backward pass.
 */
public final class Linear {
    private final ParameterLayout.View weight;
    private final int in;
    private final int out;

    public Linear(ParameterLayout.Builder layout, String name, int in, int out) {
        this.weight = layout.add(name, out, in);
        this.in = in;
        this.out = out;
    }

    public ParameterLayout.View weight() {
        return weight;
    }

    public int in() {
        return in;
    }

    public int out() {
        return out;
    }

    /** {@code y[rows, out] = x[rows, in]·Wᵀ}. */
    public void forward(ParameterBuffer p, float[] x, float[] y, int rows) {
        WeightOps.xwT(y, 0, x, 0, p, weight, rows, out, in, false);
    }

    /** {@code dW += dyᵀ·x}; {@code dx (+)= dy·W} ({@code +=} when {@code accumulate}). {@code dx} may be null. */
    public void backward(ParameterBuffer p, ParameterBuffer g, float[] x, float[] dy, float[] dx, int rows, boolean accumulate) {
        Matmul.dyTx(g.segment(), weight.offset(), dy, 0, x, 0, rows, out, in);
        if (dx != null) Matmul.dyW(dx, 0, dy, 0, p.segment(), p.offset(weight), rows, out, in, accumulate);
    }

    public void init(ParameterBuffer p, java.util.Random rng, double std) {
        Init.truncNormal(p, weight, rng, std);
    }
}

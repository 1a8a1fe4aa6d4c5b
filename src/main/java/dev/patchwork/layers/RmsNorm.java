package dev.patchwork.layers;

import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.tensor.ParameterLayout;
import dev.patchwork.tensor.RmsNormKernel;

/** RMSNorm with a learned scale; keeps the reciprocal RMS of each row of the last forward for backward. */
public final class RmsNorm {
    private final ParameterLayout.View weight;
    private final int dim;
    private final float eps;
    private float[] rstd = new float[0];

    public RmsNorm(ParameterLayout.Builder layout, String name, int dim, double eps) {
        this.weight = layout.add(name, dim);
        this.dim = dim;
        this.eps = (float) eps;
    }

    public ParameterLayout.View weight() {
        return weight;
    }

    /** {@code y[rows, dim] = rmsnorm(x)}. */
    public void forward(ParameterBuffer p, float[] x, float[] y, int rows) {
        if (rstd.length < rows) rstd = new float[rows];
        RmsNormKernel.forward(x, 0, p.segment(), p.offset(weight), y, 0, rstd, rows, dim, eps);
    }

    /** {@code dx += ∂L/∂x}, {@code dW += ∂L/∂W}, using the statistics of the last {@link #forward}. */
    public void backward(ParameterBuffer p, ParameterBuffer g, float[] x, float[] dy, float[] dx, int rows) {
        RmsNormKernel.backward(dy, 0, x, 0, p.segment(), p.offset(weight), rstd, dx, 0, g.segment(), weight.offset(), rows, dim);
    }

    public void init(ParameterBuffer p) {
        Init.ones(p, weight);
    }
}

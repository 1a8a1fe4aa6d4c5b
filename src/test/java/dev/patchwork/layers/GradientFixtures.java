package dev.patchwork.layers;

import dev.patchwork.oracle.FiniteDifferences;
import dev.patchwork.oracle.OracleParams;
import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.tensor.ParameterLayout;

import java.util.SplittableRandom;

import static dev.patchwork.oracle.GradientAssertions.assertForwardMatches;
import static dev.patchwork.oracle.GradientAssertions.assertGradientMatches;

/** Random test data and the generic "float layer vs double oracle" gradient check shared by the layer tests. */
final class GradientFixtures {
    private GradientFixtures() {}

    /** A float layer under test. {@code backward} adds parameter gradients into {@code g} and returns ∂L/∂x (or null). */
    interface FloatLayer {
        float[] forward(float[] x);

        float[] backward(ParameterBuffer g, float[] dOut);
    }

    /** The oracle of that layer: output in double from (possibly perturbed) parameters and input. */
    interface OracleLayer {
        double[] forward(OracleParams p, double[] x);
    }

    /**
     * Matrices ~ N(0, 1/in) so every projection keeps unit scale (attention scores are then neither uniform nor
     * one-hot); vectors (norm weights) ~ 1 + N(0, 0.2²) so their gradient is not the one of an all-ones weight.
     */
    static void randomize(ParameterBuffer p, SplittableRandom r) {
        for (ParameterLayout.View v : p.layout().views()) {
            double std = v.isMatrix() ? 1 / Math.sqrt(v.cols()) : 0.2;
            double mean = v.isMatrix() ? 0 : 1;
            for (long i = 0; i < v.size(); i++) p.set(v, i, (float) (mean + std * r.nextGaussian()));
        }
    }

    static float[] gaussian(SplittableRandom r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) r.nextGaussian();
        return x;
    }

    static double[] toDouble(float[] x) {
        double[] d = new double[x.length];
        for (int i = 0; i < x.length; i++) d[i] = x[i];
        return d;
    }

    /**
     * Forward against the oracle, then, for a random upstream gradient G and loss {@code sum(out ⊙ G)}, the analytic
     * gradient of every parameter tensor (and of the input when the layer has one) against central differences of
     * the oracle.
     */
    static void checkLayer(String what, ParameterBuffer params, float[] x, FloatLayer layer, OracleLayer oracle,
                           SplittableRandom r) {
        float[] out = layer.forward(x).clone();
        OracleParams op = OracleParams.of(params);
        double[] xd = x == null ? new double[0] : toDouble(x);
        assertForwardMatches(what, out, oracle.forward(op, xd));

        float[] gf = gaussian(r, out.length);
        double[] gd = toDouble(gf);
        ParameterBuffer grads = ParameterBuffer.allocate(params.layout());
        float[] dx = layer.backward(grads, gf);
        for (ParameterLayout.View v : params.layout().views()) {
            double[] numeric = FiniteDifferences.gradient(op.get(v.name()),
                    () -> FiniteDifferences.dot(oracle.forward(op, xd), gd));
            assertGradientMatches(what + " ∂/∂" + v.name(), grads.toArray(v), numeric);
        }
        if (x != null) {
            double[] numeric = FiniteDifferences.gradient(xd, () -> FiniteDifferences.dot(oracle.forward(op, xd), gd));
            assertGradientMatches(what + " ∂/∂x", dx, numeric);
        }
    }
}

package dev.patchwork.train;

import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.tensor.ParameterLayout;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * AdamW against a double-precision transcription of the torch formula, and the property the one-region update
 * relies on: a value's update has the same bits in the vector loop as in a scalar tail, so it does not depend on
 * where the threads' shares of the buffer begin.
 */
class AdamWTest {
    private static ParameterBuffer random(ParameterLayout layout, SplittableRandom rnd) {
        ParameterBuffer b = ParameterBuffer.allocate(layout);
        for (long i = 0; i < b.floats(); i++) b.set(i, (float) (rnd.nextDouble() * 2 - 1));
        return b;
    }

    @Test
    void vectorAndScalarUpdatesAreBitIdenticalAndFollowTheFormula() {
        var builder = ParameterLayout.builder();
        builder.add("w", 37, 29); // a matrix of a ragged size: weight decay applies
        builder.add("norm", 53); // a vector: no decay
        ParameterLayout layout = builder.build();
        SplittableRandom rnd = new SplittableRandom(3);
        ParameterBuffer p = random(layout, rnd), pCopy = ParameterBuffer.allocate(layout);
        for (long i = 0; i < p.floats(); i++) pCopy.set(i, p.get(i));
        double lr = 0.01, wd = 0.1, b1 = 0.9, b2 = 0.95, eps = 1e-8;
        AdamW vector = new AdamW(layout, b1, b2, eps, wd), scalar = new AdamW(layout, b1, b2, eps, wd);
        double[] m = new double[(int) p.floats()], v = new double[m.length], ref = new double[m.length];
        for (int i = 0; i < ref.length; i++) ref[i] = p.get(i);
        for (int step = 1; step <= 3; step++) {
            ParameterBuffer g = random(layout, rnd);
            vector.step(p, g, lr);
            // the scalars as AdamW.step computes them
            float stepSize = (float) lr / (float) (1 - Math.pow(b1, step)), sqrtBc2 = (float) Math.sqrt(1 - Math.pow(b2, step));
            for (ParameterLayout.View view : layout.views()) {
                float decay = view.isMatrix() ? (float) (1 - lr * wd) : 1f;
                scalar.updateScalar(pCopy.segment(), g.segment(), view.offset(), (int) view.size(), decay, stepSize, sqrtBc2);
                for (long i = view.offset(); i < view.offset() + view.size(); i++) {
                    int k = (int) i;
                    double gi = g.get(i);
                    m[k] = b1 * m[k] + (1 - b1) * gi;
                    v[k] = b2 * v[k] + (1 - b2) * gi * gi;
                    double denom = Math.sqrt(v[k]) / Math.sqrt(1 - Math.pow(b2, step)) + eps;
                    ref[k] = ref[k] * (view.isMatrix() ? 1 - lr * wd : 1) - lr / (1 - Math.pow(b1, step)) * m[k] / denom;
                }
            }
        }
        for (long i = 0; i < p.floats(); i++) {
            assertEquals(Float.floatToIntBits(pCopy.get(i)), Float.floatToIntBits(p.get(i)), "value " + i);
            assertEquals(ref[(int) i], p.get(i), 1e-5, "value " + i + " against the formula");
        }
    }
}

package dev.patchwork.patch;

import dev.patchwork.tensor.Parallel;
import dev.patchwork.tensor.Simd;
import dev.patchwork.tensor.VectorMath;
import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Entropy {@code H = −Σ p ln p} (nats) of the softmax of a row of logits, in double precision: patch boundaries
 * compare entropies with a threshold, and a sum of 260 float terms could move a value near it by 1e-6.
 *
 * <p>With {@code d = logit − max}, {@code e = exp(d)}, {@code z = Σ e}: {@code p = e/z} and {@code ln p = d − ln z}, so
 * {@code H = ln z − (Σ e·d)/z}, one pass over the row after the maximum. The vector version takes exponentials in
 * float ({@link VectorMath#exp}, within 2 ulp) and sums them in double; it agrees with the scalar twin (double
 * {@code Math.exp}) to about 1e-7 relative.
 */
final class LogitEntropy {
    private static final VectorSpecies<Float> F = Simd.F;
    private static final int LANES = Simd.LANES;
    /** Doubles in a vector as wide as {@link Simd#F}: half as many lanes, so one float vector fills two of them. */
    private static final VectorSpecies<Double> D = VectorSpecies.of(double.class, F.vectorShape());

    private LogitEntropy() {}

    /**
     * Entropies of the rows of {@code logits[B·T, vocab]} that are not padding: row {@code b·T + t} for
     * {@code t < lengths[b]}, written to {@code out[b·T + t]} (padded rows are left as they were). Rows are split
     * across the thread team; each row is computed by one thread, so results do not depend on the thread count.
     */
    static void rows(float[] logits, int vocab, int B, int T, int[] lengths, float[] out) {
        Parallel.forRange(B * T, (start, end) -> {
            for (int r = start; r < end; r++) {
                if (r % T < lengths[r / T]) out[r] = entropy(logits, r * vocab, vocab);
            }
        });
    }

    /** Entropy of {@code logits[offset ... offset + vocab)}. */
    static float entropy(float[] logits, int offset, int vocab) {
        return Simd.SCALAR ? entropyScalar(logits, offset, vocab) : entropyVector(logits, offset, vocab);
    }

    public static float entropyScalar(float[] logits, int offset, int vocab) {
        double max = Double.NEGATIVE_INFINITY;
        for (int v = 0; v < vocab; v++) max = Math.max(max, logits[offset + v]);
        double z = 0, s = 0;
        for (int v = 0; v < vocab; v++) {
            double d = logits[offset + v] - max;
            double e = Math.exp(d);
            z += e;
            s += e * d;
        }
        return (float) (Math.log(z) - s / z);
    }

    static float entropyVector(float[] logits, int offset, int vocab) {
        float max = max(logits, offset, vocab);
        // exp in float with VectorMath.exp (the EXP intrinsic rounds differently from its interpreted fallback, which
        // would make entropies, and so patch boundaries, depend on JIT timing); sums in double, two per sum (one per
        // half of each float vector), reduced lane by lane in a fixed order for the same reason.
        DoubleVector z0 = DoubleVector.zero(D), z1 = z0, s0 = z0, s1 = z0;
        int v = 0;
        for (int bound = F.loopBound(vocab); v < bound; v += LANES) {
            FloatVector d = FloatVector.fromArray(F, logits, offset + v).sub(max);
            FloatVector e = VectorMath.exp(d);
            DoubleVector d0 = (DoubleVector) d.convert(VectorOperators.F2D, 0), d1 = (DoubleVector) d.convert(VectorOperators.F2D, 1);
            DoubleVector e0 = (DoubleVector) e.convert(VectorOperators.F2D, 0), e1 = (DoubleVector) e.convert(VectorOperators.F2D, 1);
            z0 = z0.add(e0);
            z1 = z1.add(e1);
            s0 = e0.fma(d0, s0);
            s1 = e1.fma(d1, s1);
        }
        double z = inOrder(z0.add(z1)), s = inOrder(s0.add(s1));
        for (; v < vocab; v++) {
            float d = logits[offset + v] - max;
            double e = VectorMath.expScalar(d);
            z += e;
            s += e * d;
        }
        return (float) (Math.log(z) - s / z);
    }

    /** Σ lanes, first to last. */
    private static double inOrder(DoubleVector v) {
        double sum = 0;
        for (int i = 0; i < v.length(); i++) sum += v.lane(i);
        return sum;
    }

    private static float max(float[] x, int offset, int n) {
        FloatVector acc = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += LANES) acc = acc.max(FloatVector.fromArray(F, x, offset + i));
        float max = acc.reduceLanes(VectorOperators.MAX);
        for (; i < n; i++) max = Math.max(max, x[offset + i]);
        return max;
    }
}

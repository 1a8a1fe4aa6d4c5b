package dev.patchwork.tensor;

import java.util.Arrays;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Cross-entropy of rows of logits against target ids, in nats, fused with its gradient.
 * A negative target (PAD = −1) contributes no loss and no gradient.
 *
 * <p>The vector version splits rows across threads, writes each row's loss to its own slot and sums the losses in row
 * order afterwards, exactly like the scalar twin; the two differ only by the rounding of the exponentials and of the
 * per-row sums (a few ulps).
 */
public final class CrossEntropyKernel {
    private static final VectorSpecies<Float> F = Simd.F;
    private static final int LANES = Simd.LANES;

    private CrossEntropyKernel() {}

    /** How many of {@code targets[0, rows)} count: the negative ones are ignored. */
    public static long counted(int[] targets, int rows) {
        long n = 0;
        for (int i = 0; i < rows; i++) if (targets[i] >= 0) n++;
        return n;
    }

    /**
     * For each row r: {@code losses[r] = logsumexp(logits[r]) − logits[r][targets[r]]}. When {@code dlogits} is not
     * null it receives {@code (softmax(logits[r]) − onehot(targets[r]))·scale} (overwriting).
     *
     * @return the sum of the row losses (double, to keep long sums exact enough for bits per byte)
     */
    public static double forwardBackward(float[] logits, int rows, int vocab, int[] targets, int targetsOff,
                                         float[] losses, float[] dlogits, float scale) {
        return Simd.SCALAR
                ? forwardBackwardScalar(logits, rows, vocab, targets, targetsOff, losses, dlogits, scale)
                : forwardBackwardVector(logits, rows, vocab, targets, targetsOff, losses, dlogits, scale);
    }

    public static double forwardBackwardScalar(float[] logits, int rows, int vocab, int[] targets, int targetsOff,
                                               float[] losses, float[] dlogits, float scale) {
        checkTargets(rows, vocab, targets, targetsOff);
        double total = 0;
        for (int r = 0; r < rows; r++) {
            int b = r * vocab;
            int t = targets[targetsOff + r];
            float max = Float.NEGATIVE_INFINITY;
            for (int i = 0; i < vocab; i++) max = Math.max(max, logits[b + i]);
            float sum = 0f;
            for (int i = 0; i < vocab; i++) sum += (float) Math.exp(logits[b + i] - max);
            float lse = max + (float) Math.log(sum);
            float loss = t < 0 ? 0f : lse - logits[b + t];
            if (losses != null) losses[r] = loss;
            total += loss;
            if (dlogits != null) {
                for (int i = 0; i < vocab; i++) {
                    dlogits[b + i] = t < 0 ? 0f : (float) Math.exp(logits[b + i] - lse) * scale;
                }
                if (t >= 0) dlogits[b + t] -= scale;
            }
        }
        return total;
    }

    static double forwardBackwardVector(float[] logits, int rows, int vocab, int[] targets, int targetsOff,
                                        float[] losses, float[] dlogits, float scale) {
        checkTargets(rows, vocab, targets, targetsOff);
        float[] rowLoss = losses != null ? losses : KernelScratch.floats(KernelScratch.ROW_LOSS, rows);
        ParallelRows.forRows(rows, vocab, (r0, r1) -> {
            for (int r = r0; r < r1; r++) {
                int b = r * vocab;
                int t = targets[targetsOff + r];
                if (t < 0) {
                    rowLoss[r] = 0f;
                    if (dlogits != null) Arrays.fill(dlogits, b, b + vocab, 0f);
                    continue;
                }
                float max = SoftmaxKernel.max(logits, b, vocab);
                float sum = dlogits == null
                        ? sumExpShifted(logits, b, vocab, max)
                        : SoftmaxKernel.expShifted(logits, b, vocab, max, dlogits, b);
                rowLoss[r] = max + (float) Math.log(sum) - logits[b + t];
                if (dlogits != null) {
                    VectorOps.scaleVector(dlogits, b, vocab, scale / sum); // exp(x − max)/sum = softmax
                    dlogits[b + t] -= scale;
                }
            }
        });
        double total = 0;
        for (int r = 0; r < rows; r++) total += rowLoss[r]; // row order, as the scalar twin
        return total;
    }

    /** {@code Σ exp(x[b+i] − shift)} for i in [0, n), for the loss alone (no gradient to write). */
    private static float sumExpShifted(float[] x, int b, int n, float shift) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += LANES) {
            acc = acc.add(VectorMath.exp(FloatVector.fromArray(F, x, b + i).sub(shift)));
        }
        float sum = VectorMath.sum(acc);
        for (; i < n; i++) sum += (float) Math.exp(x[b + i] - shift);
        return sum;
    }

    private static void checkTargets(int rows, int vocab, int[] targets, int targetsOff) {
        for (int r = 0; r < rows; r++) {
            int t = targets[targetsOff + r];
            if (t >= vocab)
                throw new IllegalArgumentException("target id " + t + " at row " + r + " is outside the vocabulary [0,"
                        + vocab + "); use -1 (PAD) for positions without a target");
        }
    }
}

package dev.patchwork.tensor;

/**
 * Per-thread scratch arrays for kernels that need a temporary of a call's size (a weight copied to an array, per-chunk
 * partial sums), so that a training step in the steady state allocates nothing: each slot grows to the largest size
 * asked for and is then reused. Contents are undefined on return (callers clear what they accumulate into). A slot
 * belongs to one kernel, and a kernel must not call another that uses the same slot while it holds it.
 */
final class KernelScratch {
    /** {@link RmsNormKernel}: the weight as an array. */
    static final int RMS_WEIGHT = 0;
    /** {@link RmsNormKernel}: per-chunk partial weight gradients. */
    static final int RMS_WEIGHT_GRAD = 1;
    /** {@link CrossEntropyKernel}: per-row losses when the caller does not want them. */
    static final int ROW_LOSS = 2;
    private static final int SLOTS = 3;

    private static final ThreadLocal<KernelScratch> LOCAL = ThreadLocal.withInitial(KernelScratch::new);

    private final float[][] floats = new float[SLOTS][0];
    private double[] doubles = new double[0];

    private KernelScratch() {}

    /** This thread's array for {@code slot}, at least {@code n} long. */
    static float[] floats(int slot, int n) {
        KernelScratch s = LOCAL.get();
        if (s.floats[slot].length < n) s.floats[slot] = new float[n];
        return s.floats[slot];
    }

    /** This thread's array of doubles (one slot: {@link VectorOps#sumOfSquaresVector}'s partial sums), at least {@code n} long. */
    static double[] doubles(int n) {
        KernelScratch s = LOCAL.get();
        if (s.doubles.length < n) s.doubles = new double[n];
        return s.doubles;
    }
}

package dev.patchwork.tensor;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;

/**
 * Transcendental functions on float vectors built only from exactly-rounded operations (add, multiply, FMA, integer
 * bit shifts).
 *
 * <p>Why not {@code lanewise(VectorOperators.EXP)}: once C2 compiles a loop, EXP runs a vector math library (SVML)
 * whose results differ in the last bit from the Java fallback the same loop uses before it is compiled. The same
 * training step would then give different floats depending on JIT timing, and a run resumed in a fresh JVM would not
 * be bit-identical to an uninterrupted one. Every operation here rounds the same way compiled or not.
 *
 * <p>The same holds for {@code reduceLanes(VectorOperators.ADD)}: since JDK 24 the x86 intrinsic adds the lanes in a
 * tree while the fallback adds them in order (JDK-8337062), so {@link #sum} fixes the order itself.
 */
public final class VectorMath {
    private static final float LOG2E = 1.44269504088896341f;
    // ln 2 split in two (Cody–Waite) so that x − n·ln2 is exact for the n we use
    private static final float LN2_HI = 0.693359375f;
    private static final float LN2_LO = -2.12194440e-4f;
    // 1.5·2^23: adding it rounds to an integer held in the low mantissa bits
    private static final float MAGIC = 12582912f;
    private static final int MAGIC_BITS = 0x4B400000;
    private static final float MIN_X = -87.33f; // below: the result would be subnormal; we return 2^-126·p ≈ 1e-38
    private static final float MAX_X = 88.37f;  // above: 2^128 overflows
    // Taylor coefficients of e^r on |r| ≤ ln2/2; the truncation error r^8/8! is below 1e-8 relative
    private static final float C2 = 1f / 2, C3 = 1f / 6, C4 = 1f / 24, C5 = 1f / 120, C6 = 1f / 720, C7 = 1f / 5040;

    /** For {@link Simd#F}: shuffles that bring the upper half (of the live lanes) down, widest first. */
    private static final VectorShuffle<Float>[] FOLDS = folds();

    private VectorMath() {}

    @SuppressWarnings("unchecked")
    private static VectorShuffle<Float>[] folds() {
        int lanes = Simd.F.length(), steps = Integer.numberOfTrailingZeros(lanes);
        VectorShuffle<Float>[] f = new VectorShuffle[steps];
        for (int k = 0, half = lanes / 2; k < steps; k++, half /= 2) f[k] = VectorShuffle.iota(Simd.F, half, 1, true);
        return f;
    }

    /**
     * The sum of the lanes in a fixed order (halves folded onto each other: lane i + lane i+L/2, and so on), so the
     * result is the same whether the JIT has compiled the caller or not; {@link #sumScalar} is the same order in
     * plain Java.
     */
    public static float sum(FloatVector v) {
        if (v.species() != Simd.F) return sumScalar(v.toArray());
        for (VectorShuffle<Float> fold : FOLDS) v = v.add(v.rearrange(fold));
        return v.lane(0);
    }

    /** {@link #sum}'s order on an array whose length is a power of two. */
    public static float sumScalar(float[] lanes) {
        float[] a = lanes.clone();
        for (int half = a.length / 2; half >= 1; half /= 2)
            for (int i = 0; i < half; i++) a[i] = a[i] + a[i + half];
        return a[0];
    }

    /** e^x per lane, within 2 ulp of {@link Math#exp} for x in [−87.3, 88.3] (clamped outside). */
    public static FloatVector exp(FloatVector x) {
        var s = x.species();
        x = x.max(MIN_X).min(MAX_X);
        FloatVector t = x.fma(LOG2E, MAGIC);           // n + MAGIC, n = round(x·log2 e)
        FloatVector n = t.sub(MAGIC);
        FloatVector r = n.fma(FloatVector.broadcast(s, -LN2_HI), x); // r = x − n·ln2, in two exact steps
        r = n.fma(FloatVector.broadcast(s, -LN2_LO), r);
        FloatVector p = r.fma(C7, C6);                 // Horner: 1 + r + r²/2 + … + r⁷/5040
        p = p.fma(r, FloatVector.broadcast(s, C5));
        p = p.fma(r, FloatVector.broadcast(s, C4));
        p = p.fma(r, FloatVector.broadcast(s, C3));
        p = p.fma(r, FloatVector.broadcast(s, C2));
        FloatVector one = FloatVector.broadcast(s, 1f);
        p = p.fma(r, one);
        p = p.fma(r, one);
        IntVector bits = (IntVector) t.reinterpretAsInts();
        FloatVector scale = bits.sub(MAGIC_BITS - 127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        return p.mul(scale);                           // p · 2^n
    }

    /** The scalar reference of {@link #exp}: the same algorithm lane by lane (tests compare both with Math.exp). */
    public static float expScalar(float x) {
        x = Math.max(MIN_X, Math.min(MAX_X, x));
        float t = Math.fma(x, LOG2E, MAGIC);
        float n = t - MAGIC;
        float r = Math.fma(n, -LN2_HI, x);
        r = Math.fma(n, -LN2_LO, r);
        float p = Math.fma(r, C7, C6);
        p = Math.fma(p, r, C5);
        p = Math.fma(p, r, C4);
        p = Math.fma(p, r, C3);
        p = Math.fma(p, r, C2);
        p = Math.fma(p, r, 1f);
        p = Math.fma(p, r, 1f);
        return p * Float.intBitsToFloat((Float.floatToRawIntBits(t) - (MAGIC_BITS - 127)) << 23);
    }
}

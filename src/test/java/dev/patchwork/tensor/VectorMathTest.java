package dev.patchwork.tensor;

import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

class VectorMathTest {
    @Test
    void expIsWithinTwoUlpOfMathExpAndEqualsItsScalarTwinBitForBit() {
        SplittableRandom r = new SplittableRandom(3);
        int lanes = Simd.F.length();
        float[] x = new float[lanes], y = new float[lanes];
        double worstUlps = 0;
        for (int trial = 0; trial < 20_000; trial++) {
            for (int i = 0; i < lanes; i++) x[i] = (float) (r.nextDouble() * 175.6 - 87.3); // the documented range [-87.3, 88.3]
            if (trial == 0) { x[0] = 0f; x[1] = -87.3f; x[2] = 88.3f; x[3] = 1e-30f; }
            VectorMath.exp(FloatVector.fromArray(Simd.F, x, 0)).intoArray(y, 0);
            for (int i = 0; i < lanes; i++) {
                double exact = Math.exp(x[i]);
                double ulps = Math.abs(y[i] - exact) / Math.ulp((float) exact);
                worstUlps = Math.max(worstUlps, ulps);
                assertEquals(Float.floatToRawIntBits(VectorMath.expScalar(x[i])), Float.floatToRawIntBits(y[i]), "x=" + x[i]);
            }
        }
        assertTrue(worstUlps <= 2.0, "worst error " + worstUlps + " ulp");
    }

    @Test
    void expSaturatesInsteadOfOverflowing() {
        float[] x = new float[Simd.F.length()], y = new float[x.length];
        java.util.Arrays.fill(x, -1000f);
        x[0] = 1000f;
        VectorMath.exp(FloatVector.fromArray(Simd.F, x, 0)).intoArray(y, 0);
        assertTrue(Float.isFinite(y[0]) && y[0] > 1e38f, "large x: " + y[0]);
        assertTrue(y[1] >= 0 && y[1] < 1e-37f, "very negative x: " + y[1]);
    }

    @Test
    void sumAddsLanesInTheDocumentedOrderWhetherCompiledOrNot() {
        SplittableRandom r = new SplittableRandom(9);
        float[] x = new float[Simd.F.length()];
        for (int trial = 0; trial < 50_000; trial++) { // long enough for C2 to compile sum()
            for (int i = 0; i < x.length; i++) x[i] = (float) ((r.nextDouble() - 0.5) * Math.pow(10, r.nextInt(8)));
            float v = VectorMath.sum(FloatVector.fromArray(Simd.F, x, 0));
            assertEquals(Float.floatToRawIntBits(VectorMath.sumScalar(x)), Float.floatToRawIntBits(v));
        }
    }
}

package dev.patchwork.tensor;

import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

class AttentionKernelTest {
    private static final int[] HEAD_DIMS = {1, 3, 6, 8, 12, 17, 20, 32, 64, 128};

    /** One attention call: shape, inputs and masks. q, k, v may share one fused buffer. */
    record Case(AttentionKernel.Shape s, float[] q, float[] k, float[] v, int[] keyFrom, int[] keyTo, float scale,
                int outLength, int keys, boolean fused, String what) {
        float[] newOut() {
            return new float[outLength];
        }

        float[] newLse() {
            return new float[s.queries() * s.heads()];
        }
    }

    // ---------------------------------------------------------------- case generation

    /** Key intervals of the kinds BLT uses, plus arbitrary overlapping ones with empty rows. */
    static int[][] intervals(SplittableRandom r, int kind, int queries, int keys) {
        int[] from = new int[queries], to = new int[queries];
        switch (kind) {
            case 0 -> { // causal, sliding window, documents split at EOS (self-attention: keys == queries)
                int window = 1 + r.nextInt(Math.max(1, queries));
                int segStart = 0;
                for (int i = 0; i < queries; i++) {
                    if (r.nextInt(12) == 0) segStart = i;
                    from[i] = Math.max(segStart, i - window + 1);
                    to[i] = i + 1;
                }
            }
            case 1 -> { // arbitrary, overlapping, with empty (and reversed) intervals
                for (int i = 0; i < queries; i++) {
                    int a = r.nextInt(keys + 1), b = r.nextInt(keys + 1);
                    if (r.nextInt(5) == 0) {
                        from[i] = Math.max(a, b);
                        to[i] = Math.min(a, b); // empty (from >= to)
                    } else {
                        from[i] = Math.min(a, b);
                        to[i] = Math.max(a, b);
                    }
                }
            }
            case 2 -> { // a patch sees only its own bytes (encoder cross-attention): consecutive disjoint runs
                int pos = 0;
                for (int i = 0; i < queries; i++) {
                    int len = Math.min(keys - pos, r.nextInt(7)); // 0 = empty patch
                    from[i] = pos;
                    to[i] = pos + len;
                    pos += len;
                }
            }
            default -> { // a byte sees the k vectors of its patch (decoder cross-attention)
                int per = 1 + r.nextInt(3), patch = 0;
                for (int i = 0; i < queries; i++) {
                    if (i > 0 && r.nextInt(4) == 0) patch++;
                    from[i] = Math.min(keys, patch * per);
                    to[i] = Math.min(keys, patch * per + per);
                }
            }
        }
        return new int[][] {from, to};
    }

    static float[] randomArray(SplittableRandom r, int n, float amplitude) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) ((r.nextDouble() * 2 - 1) * amplitude);
        return a;
    }

    static Case randomCase(SplittableRandom r, int hd, int maxQueries) {
        int kvHeads = 1 + r.nextInt(3), heads = kvHeads * (1 + r.nextInt(3));
        int queries = 1 + r.nextInt(maxQueries);
        int kind = r.nextInt(4);
        int keys = kind == 0 ? queries : 1 + r.nextInt(maxQueries + 10);
        int[][] iv = intervals(r, kind, queries, keys);
        float scale = (float) (1.5 / Math.sqrt(hd));
        int qw = heads * hd, kvw = kvHeads * hd, pad = r.nextInt(3), off = r.nextInt(5);
        AttentionKernel.Shape s;
        float[] q, k, v;
        boolean fused = kind == 0 && r.nextBoolean();
        int outStride = qw + r.nextInt(3), outOff = r.nextInt(4);
        if (fused) { // one QKV row buffer: [q heads | k heads | v heads | pad]
            int stride = qw + 2 * kvw + pad;
            q = randomArray(r, off + queries * stride, 1.5f);
            k = q;
            v = q;
            s = new AttentionKernel.Shape(queries, heads, kvHeads, hd, off, stride, off + qw, stride, off + qw + kvw,
                    stride, outOff, outStride);
        } else {
            int qs = qw + pad, ks = kvw + r.nextInt(3), vs = kvw + r.nextInt(3);
            q = randomArray(r, off + queries * qs, 1.5f);
            k = randomArray(r, 1 + keys * ks, 1.5f);
            v = randomArray(r, 2 + keys * vs, 1f);
            s = new AttentionKernel.Shape(queries, heads, kvHeads, hd, off, qs, 1, ks, 2, vs, outOff, outStride);
        }
        String what = "hd=" + hd + " queries=" + queries + " keys=" + keys + " heads=" + heads + "/" + kvHeads
                + " kind=" + kind + (fused ? " fused" : "");
        return new Case(s, q, k, v, iv[0], iv[1], scale, outOff + queries * outStride, keys, fused, what);
    }

    // ---------------------------------------------------------------- double-precision dense reference

    /** Explicit masked softmax over all keys in double: returns out (packed [queries][heads][hd]) and fills lse. */
    static double[] denseForward(AttentionKernel.Shape s, double[] q, double[] k, double[] v, int[] from, int[] to,
                                 int keys, double scale, double[] lse) {
        int hd = s.headDim(), group = s.heads() / s.kvHeads();
        double[] out = new double[s.queries() * s.heads() * hd];
        double[] score = new double[keys];
        for (int i = 0; i < s.queries(); i++) {
            for (int h = 0; h < s.heads(); h++) {
                int g = h / group;
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < keys; j++) {
                    boolean visible = j >= from[i] && j < to[i];
                    double dot = 0;
                    for (int d = 0; d < hd; d++)
                        dot += q[s.qOff() + i * s.qStride() + h * hd + d] * k[s.kOff() + j * s.kStride() + g * hd + d];
                    score[j] = visible ? dot * scale : Double.NEGATIVE_INFINITY;
                    max = Math.max(max, score[j]);
                }
                int ob = (i * s.heads() + h) * hd;
                if (max == Double.NEGATIVE_INFINITY) {
                    if (lse != null) lse[i * s.heads() + h] = Double.NEGATIVE_INFINITY;
                    continue; // fully masked row: output 0
                }
                double sum = 0;
                for (int j = 0; j < keys; j++) sum += Math.exp(score[j] - max);
                for (int j = 0; j < keys; j++) {
                    double p = Math.exp(score[j] - max) / sum;
                    for (int d = 0; d < hd; d++) out[ob + d] += p * v[s.vOff() + j * s.vStride() + g * hd + d];
                }
                if (lse != null) lse[i * s.heads() + h] = max + Math.log(sum);
            }
        }
        return out;
    }

    static double[] toDouble(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) d[i] = a[i];
        return d;
    }

    static void assertClose(double expected, double actual, double tol, String what) {
        if (Double.isNaN(actual) || Math.abs(expected - actual) > tol)
            fail(what + ": expected " + expected + " but was " + actual + " (tolerance " + tol + ")");
    }

    // ---------------------------------------------------------------- (a) scalar twin vs dense reference

    @Test
    void scalarForwardMatchesDenseDoubleReference() {
        SplittableRandom r = new SplittableRandom(11);
        for (int trial = 0; trial < 120; trial++) {
            Case c = randomCase(r, HEAD_DIMS[trial % HEAD_DIMS.length], 40);
            AttentionKernel.Shape s = c.s();
            float[] out = c.newOut(), lse = c.newLse();
            AttentionKernel.forwardScalar(s, c.q(), c.k(), c.v(), c.keyFrom(), c.keyTo(), c.scale(), out, lse);
            double[] refLse = new double[lse.length];
            double[] ref = denseForward(s, toDouble(c.q()), toDouble(c.k()), toDouble(c.v()), c.keyFrom(), c.keyTo(),
                    c.keys(), c.scale(), refLse);
            compareToDense(c, out, lse, ref, refLse, 2e-5);
        }
    }

    static void compareToDense(Case c, float[] out, float[] lse, double[] ref, double[] refLse, double tol) {
        AttentionKernel.Shape s = c.s();
        int hd = s.headDim();
        for (int i = 0; i < s.queries(); i++)
            for (int h = 0; h < s.heads(); h++) {
                double rl = refLse[i * s.heads() + h];
                if (rl == Double.NEGATIVE_INFINITY) assertEquals(Float.NEGATIVE_INFINITY, lse[i * s.heads() + h]);
                else assertClose(rl, lse[i * s.heads() + h], tol * (1 + Math.abs(rl)), c.what() + " lse " + i + "," + h);
                for (int d = 0; d < hd; d++)
                    assertClose(ref[(i * s.heads() + h) * hd + d], out[s.outOff() + i * s.outStride() + h * hd + d],
                            tol, c.what() + " out " + i + "," + h + "," + d);
            }
    }

    // ---------------------------------------------------------------- (b) finite-difference gradients

    @Test
    void scalarBackwardMatchesFiniteDifferences() {
        SplittableRandom r = new SplittableRandom(12);
        for (int trial = 0; trial < 8; trial++) {
            Case c = randomCase(r, 1 + r.nextInt(5), 7);
            AttentionKernel.Shape s = c.s();
            float[] out = c.newOut(), lse = c.newLse();
            AttentionKernel.forwardScalar(s, c.q(), c.k(), c.v(), c.keyFrom(), c.keyTo(), c.scale(), out, lse);
            float[] dout = randomArray(r, out.length, 1f);
            double[] g = new double[s.queries() * s.heads() * s.headDim()]; // dout in the packed order of denseForward
            for (int i = 0; i < s.queries(); i++)
                for (int x = 0; x < s.heads() * s.headDim(); x++)
                    g[i * s.heads() * s.headDim() + x] = dout[s.outOff() + i * s.outStride() + x];
            float[] dq = new float[c.q().length], dk = c.fused() ? dq : new float[c.k().length];
            float[] dv = c.fused() ? dq : new float[c.v().length];
            AttentionKernel.backwardScalar(s, c.q(), c.k(), c.v(), c.keyFrom(), c.keyTo(), c.scale(), out, lse, dout,
                    dq, dk, dv);
            double[] q = toDouble(c.q()), k = c.fused() ? q : toDouble(c.k()), v = c.fused() ? q : toDouble(c.v());
            checkGradient(c, "q", q, dq, () -> objective(c, q, k, v, g));
            if (!c.fused()) {
                checkGradient(c, "k", k, dk, () -> objective(c, q, k, v, g));
                checkGradient(c, "v", v, dv, () -> objective(c, q, k, v, g));
            }
        }
    }

    /** Σ out·G in double, the function whose gradient backward computes when dout = G. */
    static double objective(Case c, double[] q, double[] k, double[] v, double[] g) {
        double[] out = denseForward(c.s(), q, k, v, c.keyFrom(), c.keyTo(), c.keys(), c.scale(), null);
        double f = 0;
        for (int i = 0; i < out.length; i++) f += out[i] * g[i];
        return f;
    }

    /** Central differences of {@code f} over every entry of {@code x} (an input the objective reads live). */
    static void checkGradient(Case c, String name, double[] x, float[] analytic, java.util.function.DoubleSupplier f) {
        double eps = 1e-4;
        for (int e = 0; e < x.length; e++) {
            double keep = x[e];
            x[e] = keep + eps;
            double plus = f.getAsDouble();
            x[e] = keep - eps;
            double minus = f.getAsDouble();
            x[e] = keep;
            double numeric = (plus - minus) / (2 * eps);
            assertClose(numeric, analytic[e], 2e-4 + 1e-3 * Math.abs(numeric), c.what() + " d" + name + "[" + e + "]");
        }
    }

    // ---------------------------------------------------------------- (c) vector vs scalar

    @Test
    void vectorForwardMatchesScalarOnRaggedShapes() {
        SplittableRandom r = new SplittableRandom(13);
        for (int trial = 0; trial < 150; trial++) {
            Case c = randomCase(r, HEAD_DIMS[trial % HEAD_DIMS.length], 90);
            float[] out = c.newOut(), lse = c.newLse(), outS = c.newOut(), lseS = c.newLse();
            Arrays.fill(out, 7f); // padding between rows must stay untouched
            Arrays.fill(outS, 7f);
            AttentionForward.run(c.s(), c.q(), c.k(), c.v(), c.keyFrom(), c.keyTo(), c.scale(), out, lse);
            AttentionKernel.forwardScalar(c.s(), c.q(), c.k(), c.v(), c.keyFrom(), c.keyTo(), c.scale(), outS, lseS);
            assertNear(outS, out, 2e-5, c.what() + " out");
            assertNear(lseS, lse, 2e-5, c.what() + " lse");
        }
    }

    @Test
    void vectorBackwardMatchesScalarOnRaggedShapes() {
        SplittableRandom r = new SplittableRandom(14);
        for (int trial = 0; trial < 150; trial++) {
            Case c = randomCase(r, HEAD_DIMS[trial % HEAD_DIMS.length], 90);
            AttentionKernel.Shape s = c.s();
            float[] out = c.newOut(), lse = c.newLse();
            AttentionKernel.forwardScalar(s, c.q(), c.k(), c.v(), c.keyFrom(), c.keyTo(), c.scale(), out, lse);
            float[] dout = randomArray(r, out.length, 1f);
            // gradients start non-zero: backward must add into them
            float[] dq = randomArray(r, c.q().length, 0.5f), dk = c.fused() ? dq : randomArray(r, c.k().length, 0.5f);
            float[] dv = c.fused() ? dq : randomArray(r, c.v().length, 0.5f);
            float[] dqS = dq.clone(), dkS = c.fused() ? dqS : dk.clone(), dvS = c.fused() ? dqS : dv.clone();
            AttentionBackward.run(s, c.q(), c.k(), c.v(), c.keyFrom(), c.keyTo(), c.scale(), out, lse, dout, dq, dk, dv);
            AttentionKernel.backwardScalar(s, c.q(), c.k(), c.v(), c.keyFrom(), c.keyTo(), c.scale(), out, lse, dout,
                    dqS, dkS, dvS);
            assertNear(dqS, dq, 1e-4, c.what() + " dq");
            assertNear(dkS, dk, 1e-4, c.what() + " dk");
            assertNear(dvS, dv, 1e-4, c.what() + " dv");
        }
    }

    @Test
    void vectorMatchesScalarOnALongWindowedSequence() {
        // many query and key blocks, tiles skipped at both ends of the window, GQA, fused QKV
        Case c = windowCase(new SplittableRandom(21), 301, 4, 2, 24, 77);
        float[][] vector = runBoth(c, false);
        float[] out = c.newOut(), lse = c.newLse(), dqkv = new float[c.q().length];
        AttentionKernel.forwardScalar(c.s(), c.q(), c.k(), c.v(), c.keyFrom(), c.keyTo(), c.scale(), out, lse);
        float[] dout = randomArray(new SplittableRandom(5), out.length, 1f); // the same as runBoth's
        AttentionKernel.backwardScalar(c.s(), c.q(), c.k(), c.v(), c.keyFrom(), c.keyTo(), c.scale(), out, lse, dout,
                dqkv, dqkv, dqkv);
        assertNear(out, vector[0], 2e-5, "out");
        assertNear(lse, vector[1], 2e-5, "lse");
        assertNear(dqkv, vector[2], 1e-4, "dqkv");
    }

    @Test
    void decodeMatchesForwardToRounding() {
        SplittableRandom r = new SplittableRandom(20);
        for (int trial = 0; trial < 100; trial++) {
            Case c = randomCase(r, HEAD_DIMS[trial % HEAD_DIMS.length], 6); // a few queries, as in decoding
            float[] out = c.newOut(), lse = c.newLse(), outD = c.newOut(), lseD = c.newLse();
            Arrays.fill(out, 7f); // every row must be written, empty ones with 0; padding between rows must stay
            Arrays.fill(outD, 7f);
            AttentionForward.run(c.s(), c.q(), c.k(), c.v(), c.keyFrom(), c.keyTo(), c.scale(), out, lse);
            AttentionDecode.run(c.s(), c.q(), c.k(), c.v(), c.keyFrom(), c.keyTo(), c.scale(), outD, lseD);
            assertNear(out, outD, 2e-5, c.what() + " decode out");
            assertNear(lse, lseD, 2e-5, c.what() + " decode lse");
        }
    }

    @Test
    void publicEntryPointsUseTheVectorKernelsUnlessScalarIsForced() {
        SplittableRandom r = new SplittableRandom(15);
        Case c = randomCase(r, 20, 60);
        float[] out = c.newOut(), lse = c.newLse(), outV = c.newOut(), lseV = c.newLse();
        AttentionKernel.forward(c.s(), c.q(), c.k(), c.v(), c.keyFrom(), c.keyTo(), c.scale(), out, lse);
        if (Simd.SCALAR) AttentionKernel.forwardScalar(c.s(), c.q(), c.k(), c.v(), c.keyFrom(), c.keyTo(), c.scale(), outV, lseV);
        else AttentionForward.run(c.s(), c.q(), c.k(), c.v(), c.keyFrom(), c.keyTo(), c.scale(), outV, lseV);
        assertArrayEquals(outV, out);
        assertArrayEquals(lseV, lse);
    }

    /** |expected − actual| ≤ tol·max(1, max |expected|), and no NaN. */
    static void assertNear(float[] expected, float[] actual, double tol, String what) {
        double scale = 1;
        for (float e : expected) if (Float.isFinite(e)) scale = Math.max(scale, Math.abs(e));
        for (int i = 0; i < expected.length; i++) {
            if (expected[i] == Float.NEGATIVE_INFINITY) {
                assertEquals(Float.NEGATIVE_INFINITY, actual[i], what + "[" + i + "]");
                continue;
            }
            assertClose(expected[i], actual[i], tol * scale, what + "[" + i + "]");
        }
    }

    // ---------------------------------------------------------------- (d) empty rows

    @Test
    void emptyIntervalsGiveZeroOutputAndNoNaN() {
        SplittableRandom r = new SplittableRandom(16);
        int hd = 12, heads = 4, kvHeads = 2, queries = 37, keys = 30;
        AttentionKernel.Shape s = AttentionKernel.Shape.packed(queries, heads, kvHeads, hd);
        float[] q = randomArray(r, queries * heads * hd, 2f), k = randomArray(r, keys * kvHeads * hd, 2f);
        float[] v = randomArray(r, keys * kvHeads * hd, 2f);
        AttentionKernel.Shape none = AttentionKernel.Shape.packed(0, heads, kvHeads, hd); // no queries: nothing to do
        AttentionKernel.forward(none, q, k, v, new int[0], new int[0], 0.4f, new float[0], new float[0]);
        AttentionKernel.decode(none, q, k, v, new int[0], new int[0], 0.4f, new float[0], new float[0]);
        AttentionKernel.backward(none, q, k, v, new int[0], new int[0], 0.4f, new float[0], new float[0], new float[0],
                new float[0], new float[k.length], new float[v.length]);
        for (int allEmpty = 0; allEmpty < 2; allEmpty++) {
            int[] from = new int[queries], to = new int[queries];
            for (int i = 0; i < queries; i++) {
                boolean empty = allEmpty == 1 || i % 3 == 0;
                from[i] = empty ? (i % 2 == 0 ? 5 : keys) : i % keys;
                to[i] = empty ? (i % 2 == 0 ? 5 : 2) : keys;
            }
            for (boolean vector : new boolean[] {false, true}) {
                float[] out = new float[queries * heads * hd], lse = new float[queries * heads];
                Arrays.fill(out, Float.NaN); // must be overwritten
                if (vector) AttentionForward.run(s, q, k, v, from, to, 0.4f, out, lse);
                else AttentionKernel.forwardScalar(s, q, k, v, from, to, 0.4f, out, lse);
                float[] dout = randomArray(r, out.length, 1f);
                float[] dq = new float[q.length], dk = new float[k.length], dv = new float[v.length];
                if (vector) AttentionBackward.run(s, q, k, v, from, to, 0.4f, out, lse, dout, dq, dk, dv);
                else AttentionKernel.backwardScalar(s, q, k, v, from, to, 0.4f, out, lse, dout, dq, dk, dv);
                for (float[] a : new float[][] {out, dq, dk, dv})
                    for (float x : a) assertFalse(Float.isNaN(x) || Float.isInfinite(x), "NaN/Inf, vector=" + vector);
                for (int i = 0; i < queries; i++) {
                    if (from[i] < to[i]) continue;
                    for (int x = 0; x < heads * hd; x++) {
                        assertEquals(0f, out[i * heads * hd + x], "out of empty row " + i);
                        assertEquals(0f, dq[i * heads * hd + x], "dq of empty row " + i);
                    }
                    for (int h = 0; h < heads; h++) assertEquals(Float.NEGATIVE_INFINITY, lse[i * heads + h]);
                }
            }
        }
    }

    // ---------------------------------------------------------------- (e) determinism

    /** A sliding-window self-attention call over a fused QKV buffer, big enough to split across threads. */
    static Case windowCase(SplittableRandom r, int queries, int heads, int kvHeads, int hd, int window) {
        int stride = (heads + 2 * kvHeads) * hd;
        float[] qkv = randomArray(r, queries * stride, 1.5f);
        int[] from = new int[queries], to = new int[queries];
        for (int i = 0; i < queries; i++) {
            from[i] = Math.max(0, i - window + 1);
            to[i] = i + 1;
        }
        AttentionKernel.Shape s = new AttentionKernel.Shape(queries, heads, kvHeads, hd, 0, stride, heads * hd, stride,
                (heads + kvHeads) * hd, stride, 0, heads * hd);
        return new Case(s, qkv, qkv, qkv, from, to, (float) (1 / Math.sqrt(hd)), queries * heads * hd, queries, true,
                "window");
    }

    /**
     * Repeated runs give the same bits, threaded or nested in a parallel region. A nested call takes its work in one
     * chunk, as a one-thread team would (a training replica's kernels, see {@code ReplicaTeam}): out, lse, dk and dv
     * do not depend on the chunks at all; dq sums its chunks' terms in another grouping, so it agrees to float
     * rounding, and exactly when the team has one thread.
     */
    @Test
    void repeatedRunsAreBitIdenticalAndNestedRunsAgree() {
        Case c = windowCase(new SplittableRandom(17), 333, 4, 2, 24, 100);
        float[][] first = runBoth(c, false), second = runBoth(c, false), serial = runBoth(c, true), serial2 = runBoth(c, true);
        for (int a = 0; a < first.length; a++) {
            assertArrayEquals(first[a], second[a], "repeat, array " + a);
            assertArrayEquals(serial[a], serial2[a], "repeat nested, array " + a);
        }
        assertArrayEquals(first[0], serial[0], "out, nested vs threaded");
        assertArrayEquals(first[1], serial[1], "lse, nested vs threaded");
        AttentionKernel.Shape s = c.s();
        for (int i = 0; i < s.queries(); i++) {
            for (int x = 0; x < s.qStride(); x++) {
                float t = first[2][i * s.qStride() + x], n = serial[2][i * s.qStride() + x];
                boolean isQuery = x < s.heads() * s.headDim();
                if (isQuery && Parallel.threads() > 1) assertEquals(t, n, 1e-6f * Math.max(1f, Math.abs(t)), "dq " + i + "/" + x);
                else assertEquals(t, n, "dk/dv (or dq on one thread) " + i + "/" + x);
            }
        }
    }

    /** Forward and backward through the vector kernels: {out, lse, dqkv}; serial = nested in a parallel region. */
    static float[][] runBoth(Case c, boolean serial) {
        float[] out = c.newOut(), lse = c.newLse(), dqkv = new float[c.q().length];
        float[] dout = randomArray(new SplittableRandom(5), out.length, 1f);
        Runnable body = () -> {
            AttentionForward.run(c.s(), c.q(), c.k(), c.v(), c.keyFrom(), c.keyTo(), c.scale(), out, lse);
            AttentionBackward.run(c.s(), c.q(), c.k(), c.v(), c.keyFrom(), c.keyTo(), c.scale(), out, lse, dout,
                    dqkv, dqkv, dqkv);
        };
        if (serial) Parallel.forChunks(2, 2, (chunk, st, en) -> { if (chunk == 0) body.run(); });
        else body.run();
        return new float[][] {out, lse, dqkv};
    }

    @Test
    void aQueryAloneGivesTheSameBitsAsInsideTheSequence() {
        // what makes incremental decoding (one query against the cache) agree exactly with a full forward pass
        Case c = windowCase(new SplittableRandom(18), 70, 4, 1, 20, 33);
        AttentionKernel.Shape s = c.s();
        float[] out = c.newOut(), lse = c.newLse();
        AttentionForward.run(s, c.q(), c.k(), c.v(), c.keyFrom(), c.keyTo(), c.scale(), out, lse);
        int width = s.heads() * s.headDim();
        for (int i = 0; i < s.queries(); i++) {
            AttentionKernel.Shape one = new AttentionKernel.Shape(1, s.heads(), s.kvHeads(), s.headDim(),
                    s.qOff() + i * s.qStride(), s.qStride(), s.kOff(), s.kStride(), s.vOff(), s.vStride(), 0, width);
            float[] o = new float[width], l = new float[s.heads()];
            AttentionForward.run(one, c.q(), c.k(), c.v(), new int[] {c.keyFrom()[i]}, new int[] {c.keyTo()[i]},
                    c.scale(), o, l);
            assertArrayEquals(Arrays.copyOfRange(out, i * width, (i + 1) * width), o, "query " + i);
            assertArrayEquals(Arrays.copyOfRange(lse, i * s.heads(), (i + 1) * s.heads()), l, "lse of query " + i);
        }
    }

    // ---------------------------------------------------------------- pieces and bad input

    @Test
    void vectorExpIsAccurateAndExactAtTheEnds() {
        SplittableRandom r = new SplittableRandom(19);
        float[] x = new float[AttentionTiles.L], y = new float[AttentionTiles.L];
        for (int trial = 0; trial < 20000; trial++) {
            for (int i = 0; i < x.length; i++) x[i] = (float) (-87.3 + r.nextDouble() * 175.3);
            AttentionTiles.exp(FloatVector.fromArray(AttentionTiles.F, x, 0)).intoArray(y, 0);
            for (int i = 0; i < x.length; i++) {
                double e = Math.exp(x[i]);
                assertClose(e, y[i], 3e-7 * e, "exp(" + x[i] + ")");
            }
        }
        for (float special : new float[] {Float.NEGATIVE_INFINITY, -88f, -1e30f, 0f}) {
            Arrays.fill(x, special);
            AttentionTiles.exp(FloatVector.fromArray(AttentionTiles.F, x, 0)).intoArray(y, 0);
            for (float e : y) assertEquals(special == 0f ? 1f : 0f, e, "exp(" + special + ") must be exact");
        }
    }

    @Test
    void badInputIsRejectedWithAClearMessage() {
        AttentionKernel.Shape s = AttentionKernel.Shape.packed(4, 2, 1, 8);
        float[] q = new float[4 * 16], kv = new float[4 * 8], out = new float[4 * 16], lse = new float[8];
        int[] from = {0, 0, 0, 0}, to = {1, 2, 3, 4};
        AttentionKernel.forward(s, q, kv, kv, from, to, 0.3f, out, lse); // valid
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> AttentionKernel.forward(s, q, kv, kv, from, new int[] {1, 2, 3, 5}, 0.3f, out, lse));
        assertTrue(e.getMessage().contains("k has 32 floats"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> AttentionKernel.forward(s, q, kv, kv, new int[] {-1, 0, 0, 0}, to, 0.3f, out, lse));
        assertTrue(e.getMessage().contains("starts at -1"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> AttentionKernel.forward(s, q, kv, kv, from, new int[] {1, 2}, 0.3f, out, lse));
        assertTrue(e.getMessage().contains("key interval per query"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> AttentionKernel.backward(s, q, kv, kv, from, to, 0.3f,
                out, null, out, q, kv, kv));
        assertTrue(e.getMessage().contains("lse"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new AttentionKernel.Shape(1, 3, 2, 8, 0, 24, 0, 16, 0, 16, 0, 24));
        assertTrue(e.getMessage().contains("multiple"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> AttentionKernel.Shape.packed(1, 2, 0, 8));
        assertTrue(e.getMessage().contains("kvHeads"), e.getMessage());
    }
}

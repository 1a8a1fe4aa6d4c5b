package dev.patchwork.tensor;

/**
 * Fused scaled-dot-product attention whose mask is a key interval per query, never a dense matrix.
 *
 * <p>Every mask Patchwork needs is an interval of key rows for each query: causal with a sliding window and document
 * segments split at EOS (self-attention over bytes or patches), "a patch sees only its own bytes" (encoder
 * cross-attention), "a byte sees the k vectors of its patch" (decoder cross-attention). Query {@code i} attends key rows
 * {@code [keyFrom[i], keyTo[i])}; an empty interval gives an output of 0 (never NaN), as flex attention does for a
 * fully masked row. The cost is linear in the number of visible keys, so a windowed layer is linear in length.
 *
 * <p>Layout: row {@code r} of q holds {@code heads} heads of {@code hd} values at {@code qOff + r*qStride + h*hd};
 * k and v hold {@code kvHeads} heads the same way (grouped-query attention when kvHeads &lt; heads). Forward saves
 * the log-sum-exp of every (query, head) for the backward pass, which recomputes probabilities from it (no T×T
 * buffer). Intervals may be empty ({@code keyFrom >= keyTo}); non-empty ones must start at 0 or later.
 *
 * <p>Implementations: {@link #forward} and {@link #backward} run the Vector API kernels ({@code AttentionForward},
 * {@code AttentionBackward}: blocks of queries or keys in the vector lanes, so every head dimension keeps the lanes
 * full) in parallel over (head, block) work items; {@link #decode} is the fast path for a few queries (decoding
 * steps); {@code ...Scalar} are the plain single-threaded twins, used instead of all three when {@link Simd#SCALAR}.
 * Every work item writes only its own outputs in a fixed order, so results are bit-identical from run to run and for
 * any thread count; {@link #forward} even gives a query the same bits alone as inside a longer call.
 */
public final class AttentionKernel {
    private AttentionKernel() {}

    /** Shapes and strides of one attention call. */
    public record Shape(int queries, int heads, int kvHeads, int headDim,
                        int qOff, int qStride, int kOff, int kStride, int vOff, int vStride,
                        int outOff, int outStride) {
        public Shape {
            if (queries < 0 || heads < 1 || kvHeads < 1 || headDim < 1)
                throw new IllegalArgumentException("attention shape needs queries >= 0 and heads, kvHeads, headDim >= 1;"
                        + " got queries " + queries + ", heads " + heads + ", kvHeads " + kvHeads + ", headDim " + headDim);
            if (heads % kvHeads != 0) throw new IllegalArgumentException("heads " + heads + " not a multiple of kv heads " + kvHeads);
            if (qOff < 0 || kOff < 0 || vOff < 0 || outOff < 0 || qStride < 0 || kStride < 0 || vStride < 0 || outStride < 0)
                throw new IllegalArgumentException("attention offsets and strides must be >= 0; got q " + qOff + "/" + qStride
                        + ", k " + kOff + "/" + kStride + ", v " + vOff + "/" + vStride + ", out " + outOff + "/" + outStride);
        }

        /** Separate row-major q, k, v and out arrays, each row holding its heads back to back, from offset 0. */
        public static Shape packed(int queries, int heads, int kvHeads, int headDim) {
            int qw = heads * headDim, kvw = kvHeads * headDim;
            return new Shape(queries, heads, kvHeads, headDim, 0, qw, 0, kvw, 0, kvw, 0, qw);
        }
    }

    /**
     * {@code out} (same layout as q, at {@code outOff/outStride}) and, unless {@code lse} is null, the log-sum-exp of the
     * scaled scores of every (query, head) at {@code lse[query*heads + head]} (−∞ for an empty interval).
     */
    public static void forward(Shape s, float[] q, float[] k, float[] v, int[] keyFrom, int[] keyTo, float scale,
                               float[] out, float[] lse) {
        checkForward(s, q, k, v, keyFrom, keyTo, scale, out, lse);
        if (Simd.SCALAR) forwardUnchecked(s, q, k, v, keyFrom, keyTo, scale, out, lse);
        else AttentionForward.run(s, q, k, v, keyFrom, keyTo, scale, out, lse);
    }

    /**
     * The same as {@link #forward}, faster when there are few queries (a decoding step: the new query against the KV
     * cache, ~1 to 4 queries): the head dimension goes in the vector lanes instead of the queries. Results agree with
     * {@link #forward} to float rounding, not bit for bit (a different summation order); {@link #forwardScalar} is the
     * scalar twin. Use {@link #forward} where a query must give the same bits alone as inside a sequence.
     */
    public static void decode(Shape s, float[] q, float[] k, float[] v, int[] keyFrom, int[] keyTo, float scale,
                              float[] out, float[] lse) {
        checkForward(s, q, k, v, keyFrom, keyTo, scale, out, lse);
        if (Simd.SCALAR) forwardUnchecked(s, q, k, v, keyFrom, keyTo, scale, out, lse);
        else AttentionDecode.run(s, q, k, v, keyFrom, keyTo, scale, out, lse);
    }

    /** Adds the gradients with respect to q, k and v into {@code dq}, {@code dk}, {@code dv} (same layouts). */
    public static void backward(Shape s, float[] q, float[] k, float[] v, int[] keyFrom, int[] keyTo, float scale,
                                float[] out, float[] lse, float[] dout, float[] dq, float[] dk, float[] dv) {
        checkBackward(s, q, k, v, keyFrom, keyTo, scale, out, lse, dout, dq, dk, dv);
        if (Simd.SCALAR) backwardUnchecked(s, q, k, v, keyFrom, keyTo, scale, out, lse, dout, dq, dk, dv);
        else AttentionBackward.run(s, q, k, v, keyFrom, keyTo, scale, out, lse, dout, dq, dk, dv);
    }

    /** Plain single-threaded reference of {@link #forward}. */
    public static void forwardScalar(Shape s, float[] q, float[] k, float[] v, int[] keyFrom, int[] keyTo,
                                     float scale, float[] out, float[] lse) {
        checkForward(s, q, k, v, keyFrom, keyTo, scale, out, lse);
        forwardUnchecked(s, q, k, v, keyFrom, keyTo, scale, out, lse);
    }

    /** Plain single-threaded reference of {@link #backward}. */
    public static void backwardScalar(Shape s, float[] q, float[] k, float[] v, int[] keyFrom, int[] keyTo,
                                      float scale, float[] out, float[] lse, float[] dout,
                                      float[] dq, float[] dk, float[] dv) {
        checkBackward(s, q, k, v, keyFrom, keyTo, scale, out, lse, dout, dq, dk, dv);
        backwardUnchecked(s, q, k, v, keyFrom, keyTo, scale, out, lse, dout, dq, dk, dv);
    }

    private static void forwardUnchecked(Shape s, float[] q, float[] k, float[] v, int[] keyFrom, int[] keyTo,
                                         float scale, float[] out, float[] lse) {
        int hd = s.headDim(), group = s.heads() / s.kvHeads();
        float[] acc = new float[hd];
        for (int i = 0; i < s.queries(); i++) {
            for (int h = 0; h < s.heads(); h++) {
                int qb = s.qOff() + i * s.qStride() + h * hd;
                int kvh = h / group;
                int ob = s.outOff() + i * s.outStride() + h * hd;
                float max = Float.NEGATIVE_INFINITY, sum = 0f;
                java.util.Arrays.fill(acc, 0f);
                for (int j = keyFrom[i]; j < keyTo[i]; j++) {
                    int kb = s.kOff() + j * s.kStride() + kvh * hd;
                    float dot = 0f;
                    for (int d = 0; d < hd; d++) dot += q[qb + d] * k[kb + d];
                    float score = dot * scale;
                    // online softmax: rescale what was accumulated when the running maximum grows
                    float newMax = Math.max(max, score);
                    float correction = (float) Math.exp(max - newMax);
                    float p = (float) Math.exp(score - newMax);
                    sum = sum * correction + p;
                    int vb = s.vOff() + j * s.vStride() + kvh * hd;
                    for (int d = 0; d < hd; d++) acc[d] = acc[d] * correction + p * v[vb + d];
                    max = newMax;
                }
                if (sum == 0f) {
                    for (int d = 0; d < hd; d++) out[ob + d] = 0f;
                    if (lse != null) lse[i * s.heads() + h] = Float.NEGATIVE_INFINITY;
                } else {
                    float inv = 1f / sum;
                    for (int d = 0; d < hd; d++) out[ob + d] = acc[d] * inv;
                    if (lse != null) lse[i * s.heads() + h] = max + (float) Math.log(sum);
                }
            }
        }
    }

    private static void backwardUnchecked(Shape s, float[] q, float[] k, float[] v, int[] keyFrom, int[] keyTo,
                                          float scale, float[] out, float[] lse, float[] dout,
                                          float[] dq, float[] dk, float[] dv) {
        int hd = s.headDim(), group = s.heads() / s.kvHeads();
        for (int i = 0; i < s.queries(); i++) {
            for (int h = 0; h < s.heads(); h++) {
                if (keyFrom[i] >= keyTo[i]) continue; // output was the constant 0
                int qb = s.qOff() + i * s.qStride() + h * hd;
                int ob = s.outOff() + i * s.outStride() + h * hd;
                int kvh = h / group;
                float l = lse[i * s.heads() + h];
                float delta = 0f; // Σ_d dout·out = Σ_j p_j dp_j
                for (int d = 0; d < hd; d++) delta += dout[ob + d] * out[ob + d];
                for (int j = keyFrom[i]; j < keyTo[i]; j++) {
                    int kb = s.kOff() + j * s.kStride() + kvh * hd;
                    int vb = s.vOff() + j * s.vStride() + kvh * hd;
                    float dot = 0f;
                    for (int d = 0; d < hd; d++) dot += q[qb + d] * k[kb + d];
                    float p = (float) Math.exp(dot * scale - l);
                    float dp = 0f;
                    for (int d = 0; d < hd; d++) {
                        dv[vb + d] += p * dout[ob + d];
                        dp += dout[ob + d] * v[vb + d];
                    }
                    float ds = p * (dp - delta) * scale;
                    for (int d = 0; d < hd; d++) {
                        dq[qb + d] += ds * k[kb + d];
                        dk[kb + d] += ds * q[qb + d];
                    }
                }
            }
        }
    }

    private static void checkForward(Shape s, float[] q, float[] k, float[] v, int[] keyFrom, int[] keyTo,
                                     float scale, float[] out, float[] lse) {
        if (!Float.isFinite(scale)) throw new IllegalArgumentException("attention scale must be finite, got " + scale);
        if (keyFrom.length < s.queries() || keyTo.length < s.queries())
            throw new IllegalArgumentException("attention needs a key interval per query: keyFrom has " + keyFrom.length
                    + " and keyTo " + keyTo.length + " entries for " + s.queries() + " queries");
        int keys = 0;
        for (int i = 0; i < s.queries(); i++) {
            if (keyFrom[i] >= keyTo[i]) continue; // empty interval, allowed
            if (keyFrom[i] < 0)
                throw new IllegalArgumentException("key interval of query " + i + " starts at " + keyFrom[i] + " (< 0)");
            keys = Math.max(keys, keyTo[i]);
        }
        int rowWidth = s.heads() * s.headDim(), kvWidth = s.kvHeads() * s.headDim();
        checkRows("q", q, s.qOff(), s.qStride(), s.queries(), rowWidth);
        checkRows("out", out, s.outOff(), s.outStride(), s.queries(), rowWidth);
        checkRows("k", k, s.kOff(), s.kStride(), keys, kvWidth);
        checkRows("v", v, s.vOff(), s.vStride(), keys, kvWidth);
        if (lse != null && lse.length < (long) s.queries() * s.heads())
            throw new IllegalArgumentException("lse has " + lse.length + " entries, needs queries*heads = "
                    + (long) s.queries() * s.heads());
    }

    private static void checkBackward(Shape s, float[] q, float[] k, float[] v, int[] keyFrom, int[] keyTo,
                                      float scale, float[] out, float[] lse, float[] dout,
                                      float[] dq, float[] dk, float[] dv) {
        if (lse == null) throw new IllegalArgumentException("attention backward needs the lse saved by forward, got null");
        checkForward(s, q, k, v, keyFrom, keyTo, scale, out, lse);
        int keys = keyRows(s.queries(), keyFrom, keyTo);
        int rowWidth = s.heads() * s.headDim(), kvWidth = s.kvHeads() * s.headDim();
        checkRows("dout", dout, s.outOff(), s.outStride(), s.queries(), rowWidth);
        checkRows("dq", dq, s.qOff(), s.qStride(), s.queries(), rowWidth);
        checkRows("dk", dk, s.kOff(), s.kStride(), keys, kvWidth);
        checkRows("dv", dv, s.vOff(), s.vStride(), keys, kvWidth);
    }

    /** Key rows the call reads: one past the largest end of a non-empty interval (0 if all are empty). */
    static int keyRows(int queries, int[] keyFrom, int[] keyTo) {
        int keys = 0;
        for (int i = 0; i < queries; i++) if (keyFrom[i] < keyTo[i]) keys = Math.max(keys, keyTo[i]);
        return keys;
    }

    /** Rows {@code [0, rows)} of {@code width} values at {@code off + r*stride} must fit in the array. */
    private static void checkRows(String name, float[] a, int off, int stride, int rows, int width) {
        if (rows == 0) return;
        long end = off + (long) (rows - 1) * stride + width;
        if (end > a.length)
            throw new IllegalArgumentException(name + " has " + a.length + " floats but " + rows + " rows of " + width
                    + " at offset " + off + ", stride " + stride + " need " + end + "; check the shape and key intervals");
    }
}

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
 * buffer).
 */
public final class AttentionKernel {
    private AttentionKernel() {}

    /** Shapes and strides of one attention call. */
    public record Shape(int queries, int heads, int kvHeads, int headDim,
                        int qOff, int qStride, int kOff, int kStride, int vOff, int vStride,
                        int outOff, int outStride) {
        public Shape {
            if (heads % kvHeads != 0) throw new IllegalArgumentException("heads " + heads + " not a multiple of kv heads " + kvHeads);
        }
    }

    public static void forward(Shape s, float[] q, float[] k, float[] v, int[] keyFrom, int[] keyTo, float scale,
                               float[] out, float[] lse) {
        forwardScalar(s, q, k, v, keyFrom, keyTo, scale, out, lse);
    }

    /** Adds the gradients with respect to q, k and v into {@code dq}, {@code dk}, {@code dv} (same layouts). */
    public static void backward(Shape s, float[] q, float[] k, float[] v, int[] keyFrom, int[] keyTo, float scale,
                                float[] out, float[] lse, float[] dout, float[] dq, float[] dk, float[] dv) {
        backwardScalar(s, q, k, v, keyFrom, keyTo, scale, out, lse, dout, dq, dk, dv);
    }

    public static void forwardScalar(Shape s, float[] q, float[] k, float[] v, int[] keyFrom, int[] keyTo,
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

    public static void backwardScalar(Shape s, float[] q, float[] k, float[] v, int[] keyFrom, int[] keyTo,
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
}

package dev.patchwork.oracle;

/**
 * Obviously-correct double-precision forward passes of the transformer layers, written from the formulas of spec §3
 * with plain loops and no shared code with the float layers. Activations are row-major {@code [rows, width]};
 * weights are PyTorch-shaped {@code W[out, in]}.
 */
public final class NaiveLayers {
    private NaiveLayers() {}

    /** Hyper-parameters of one self-attention layer. */
    public record AttentionShape(int dim, int heads, int kvHeads, int headDim, double ropeTheta) {}

    /** {@code y = x·Wᵀ}. */
    public static double[] linear(double[] x, int rows, int in, double[] w, int out) {
        double[] y = new double[rows * out];
        for (int r = 0; r < rows; r++)
            for (int o = 0; o < out; o++) {
                double s = 0;
                for (int i = 0; i < in; i++) s += x[r * in + i] * w[o * in + i];
                y[r * out + o] = s;
            }
        return y;
    }

    /** {@code y = x / sqrt(mean(x²) + eps) * w} per row. */
    public static double[] rmsNorm(double[] x, int rows, int dim, double[] w, double eps) {
        double[] y = new double[rows * dim];
        for (int r = 0; r < rows; r++) {
            double ss = 0;
            for (int i = 0; i < dim; i++) ss += x[r * dim + i] * x[r * dim + i];
            double rms = Math.sqrt(ss / dim + eps);
            for (int i = 0; i < dim; i++) y[r * dim + i] = x[r * dim + i] / rms * w[i];
        }
        return y;
    }

    /** Rows of {@code table[vocab, dim]} picked by id. */
    public static double[] embedding(double[] table, int dim, int[] ids) {
        double[] y = new double[ids.length * dim];
        for (int i = 0; i < ids.length; i++)
            for (int d = 0; d < dim; d++) y[i * dim + d] = table[ids[i] * dim + d];
        return y;
    }

    public static double silu(double a) {
        return a / (1 + Math.exp(-a));
    }

    /** SwiGLU {@code W2·(silu(W1·x) ⊙ W3·x)}. */
    public static double[] feedForward(double[] x, int rows, int dim, int hidden, double[] w1, double[] w3, double[] w2) {
        double[] a = linear(x, rows, dim, w1, hidden);
        double[] b = linear(x, rows, dim, w3, hidden);
        double[] gate = new double[rows * hidden];
        for (int i = 0; i < gate.length; i++) gate[i] = silu(a[i]) * b[i];
        return linear(gate, rows, hidden, w2, dim);
    }

    /**
     * Rotates one head vector {@code x[off, off+hd)} for position {@code pos}: pair {@code (x[2i], x[2i+1])} by the
     * angle {@code pos·θ^(−2i/hd)} (interleaved pairs).
     */
    public static void rope(double[] x, int off, int hd, int pos, double theta) {
        for (int i = 0; i < hd / 2; i++) {
            double angle = pos * Math.pow(theta, -2.0 * i / hd);
            double c = Math.cos(angle), s = Math.sin(angle);
            double a = x[off + 2 * i], b = x[off + 2 * i + 1];
            x[off + 2 * i] = a * c - b * s;
            x[off + 2 * i + 1] = a * s + b * c;
        }
    }

    /**
     * Multi-head self-attention over {@code B} rows of {@code T} tokens with RoPE (positions restart in every row),
     * softmax scale {@code 1/√hd}, grouped-query heads ({@code kvHeads} key/value heads, each shared by
     * {@code heads/kvHeads} consecutive query heads) and a dense {@code mask[b·T + t][j]}.
     */
    public static double[] selfAttention(double[] x, int B, int T, AttentionShape s, double[] wq, double[] wk,
                                         double[] wv, double[] wo, boolean[][] mask) {
        int rows = B * T, hd = s.headDim(), H = s.heads(), KV = s.kvHeads(), group = H / KV;
        double[] q = linear(x, rows, s.dim(), wq, H * hd);
        double[] k = linear(x, rows, s.dim(), wk, KV * hd);
        double[] v = linear(x, rows, s.dim(), wv, KV * hd);
        for (int r = 0; r < rows; r++) {
            int pos = r % T;
            for (int h = 0; h < H; h++) rope(q, r * H * hd + h * hd, hd, pos, s.ropeTheta());
            for (int h = 0; h < KV; h++) rope(k, r * KV * hd + h * hd, hd, pos, s.ropeTheta());
        }
        double[] att = new double[rows * H * hd];
        double scale = 1 / Math.sqrt(hd);
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++)
                for (int h = 0; h < H; h++) {
                    int qi = (b * T + t) * H * hd + h * hd, kvh = h / group;
                    double[] score = new double[T];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < T; j++) {
                        if (!mask[b * T + t][j]) continue;
                        int ki = (b * T + j) * KV * hd + kvh * hd;
                        double dot = 0;
                        for (int d = 0; d < hd; d++) dot += q[qi + d] * k[ki + d];
                        score[j] = dot * scale;
                        max = Math.max(max, score[j]);
                    }
                    double sum = 0;
                    double[] p = new double[T];
                    for (int j = 0; j < T; j++) if (mask[b * T + t][j]) sum += p[j] = Math.exp(score[j] - max);
                    for (int j = 0; j < T; j++) {
                        if (!mask[b * T + t][j]) continue;
                        int vi = (b * T + j) * KV * hd + kvh * hd;
                        for (int d = 0; d < hd; d++) att[qi + d] += p[j] / sum * v[vi + d];
                    }
                }
        return linear(att, rows, H * hd, wo, s.dim());
    }

    /**
     * The pre-norm block {@code h = x + attn(norm(x)); out = h + ffn(norm(h))} with the reference's parameter names
     * under {@code prefix}.
     */
    public static double[] block(double[] x, int B, int T, AttentionShape s, int hidden, double eps, OracleParams p,
                                 String prefix, boolean[][] mask) {
        int rows = B * T, dim = s.dim();
        double[] n1 = rmsNorm(x, rows, dim, p.get(prefix + "attention_norm.weight"), eps);
        double[] a = selfAttention(n1, B, T, s, p.get(prefix + "attention.wq.weight"), p.get(prefix + "attention.wk.weight"),
                p.get(prefix + "attention.wv.weight"), p.get(prefix + "attention.wo.weight"), mask);
        double[] h = new double[rows * dim];
        for (int i = 0; i < h.length; i++) h[i] = x[i] + a[i];
        double[] n2 = rmsNorm(h, rows, dim, p.get(prefix + "ffn_norm.weight"), eps);
        double[] f = feedForward(n2, rows, dim, hidden, p.get(prefix + "feed_forward.w1.weight"),
                p.get(prefix + "feed_forward.w3.weight"), p.get(prefix + "feed_forward.w2.weight"));
        double[] out = new double[rows * dim];
        for (int i = 0; i < out.length; i++) out[i] = h[i] + f[i];
        return out;
    }
}

package dev.patchwork.oracle;

import dev.patchwork.model.BltConfig;

import java.math.BigInteger;

/**
 * Double-precision forward pass of the Byte Latent Transformer written straight from spec §5–§6, sharing no code
 * with the float model: patch ids by counting cumulative sums, dense boolean masks for every attention (local,
 * global, both cross-attentions), hash ids with arbitrary-precision arithmetic reduced modulo 2⁶⁴, plain loops.
 */
public final class NaiveBlt {
    private static final BigInteger TWO_64 = BigInteger.ONE.shiftLeft(64);
    private static final long[] PRIMES = {1000000007L, 5915587277L, 1500450271L, 3267000013L, 5754853343L,
            4093082899L, 9576890767L, 3628273133L, 2860486313L, 5463458053L, 3367900313L};

    private NaiveBlt() {}

    /**
     * The hash id of the n ids ending at position {@code t} of {@code row}: the exact polynomial (oldest id times
     * P⁰) reduced to a signed 64-bit value (what int64 arithmetic leaves), then the non-negative remainder.
     */
    public static int hashId(int[] row, int t, int n, int function, int vocab) {
        BigInteger prime = BigInteger.valueOf(PRIMES[function]), sum = BigInteger.ZERO;
        for (int j = 0; j < n; j++) {
            int pos = t - n + 1 + j;
            int id = pos >= 0 ? row[pos] : 0;
            sum = sum.add(BigInteger.valueOf(id).multiply(prime.pow(j)));
        }
        BigInteger wrapped = sum.mod(TWO_64);
        if (wrapped.testBit(63)) wrapped = wrapped.subtract(TWO_64); // as a signed int64
        return wrapped.mod(BigInteger.valueOf(vocab)).intValueExact();
    }

    /** {@code #{c ∈ [0, L0, L0+L1, …] : c ≤ j} − 1} for every j in [0, N), counting literally. */
    public static int[] patchIds(int[] lengths, int N) {
        int[] cum = new int[lengths.length + 1];
        for (int p = 0; p < lengths.length; p++) cum[p + 1] = cum[p] + lengths[p];
        int[] ids = new int[N];
        for (int j = 0; j < N; j++) {
            int count = 0;
            for (int c : cum) if (c <= j) count++;
            ids[j] = count - 1;
        }
        return ids;
    }

    /** The decoder's patch ids: the patch ids of the lengths without the first patch. */
    public static int[] decoderPatchIds(int[] lengths, int N) {
        return patchIds(java.util.Arrays.copyOfRange(lengths, 1, lengths.length), N);
    }

    /**
     * Cross-attention as the reference's {@code CrossAttention.forward} returns it: {@code x + Wo·softmax(q·kᵀ/√hd)·v}
     * with {@code q = Wq·rmsnorm_q(x)}, {@code k, v = Wk, Wv·rmsnorm_kv(kv)}, no RoPE; a query that sees no key gets
     * attention 0.
     */
    public static double[] crossAttention(double[] x, int queries, double[] kv, int keys, int dim, int heads, double eps,
                                          OracleParams p, String prefix, boolean[][] mask) {
        int hd = dim / heads;
        double[] xn = NaiveLayers.rmsNorm(x, queries, dim, p.get(prefix + "cross_attn_norm_q.weight"), eps);
        double[] kvn = NaiveLayers.rmsNorm(kv, keys, dim, p.get(prefix + "cross_attn_norm_kv.weight"), eps);
        double[] q = NaiveLayers.linear(xn, queries, dim, p.get(prefix + "wq.weight"), heads * hd);
        double[] k = NaiveLayers.linear(kvn, keys, dim, p.get(prefix + "wk.weight"), heads * hd);
        double[] v = NaiveLayers.linear(kvn, keys, dim, p.get(prefix + "wv.weight"), heads * hd);
        double[] att = new double[queries * heads * hd];
        for (int i = 0; i < queries; i++)
            for (int h = 0; h < heads; h++) {
                double[] score = new double[keys];
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < keys; j++) {
                    if (!mask[i][j]) continue;
                    double dot = 0;
                    for (int d = 0; d < hd; d++) dot += q[i * heads * hd + h * hd + d] * k[j * heads * hd + h * hd + d];
                    score[j] = dot / Math.sqrt(hd);
                    max = Math.max(max, score[j]);
                }
                double sum = 0;
                for (int j = 0; j < keys; j++) if (mask[i][j]) sum += Math.exp(score[j] - max);
                for (int j = 0; j < keys; j++) {
                    if (!mask[i][j]) continue;
                    double w = Math.exp(score[j] - max) / sum;
                    for (int d = 0; d < hd; d++) att[i * heads * hd + h * hd + d] += w * v[j * heads * hd + h * hd + d];
                }
            }
        double[] o = NaiveLayers.linear(att, queries, heads * hd, p.get(prefix + "wo.weight"), dim);
        double[] out = new double[queries * dim];
        for (int i = 0; i < out.length; i++) out[i] = x[i] + o[i];
        return out;
    }

    /** Elementwise maximum over the bytes of each patch ({@code ids[j] == p}); a patch without bytes is 0. */
    public static double[] maxPool(double[] h, int dim, int[] patchOfRow, int patches) {
        double[] out = new double[patches * dim];
        for (int p = 0; p < patches; p++)
            for (int d = 0; d < dim; d++) {
                double max = Double.NEGATIVE_INFINITY;
                for (int r = 0; r < patchOfRow.length; r++) if (patchOfRow[r] == p) max = Math.max(max, h[r * dim + d]);
                out[p * dim + d] = max == Double.NEGATIVE_INFINITY ? 0 : max;
            }
        return out;
    }

    /**
     * Logits {@code [B·N, vocab]} of {@code ids[B·N]} whose rows have the given patch lengths (rows may have fewer
     * patches than others: the rest are empty).
     */
    public static double[] logits(BltConfig c, OracleParams p, int[] ids, int B, int N, int[][] lengths) {
        int P = 0;
        for (int[] l : lengths) P = Math.max(P, l.length);
        int k = c.crossAttnK(), dE = c.dimLocalEncoder(), dD = c.dimLocalDecoder(), dG = c.dimGlobal();
        int eos = c.eosId();
        int[][] pid = new int[B][], dpid = new int[B][];
        for (int b = 0; b < B; b++) {
            int[] padded = java.util.Arrays.copyOf(lengths[b], P);
            pid[b] = patchIds(padded, N);
            dpid[b] = decoderPatchIds(padded, N);
        }

        // embeddings: byte table + every hash table (function-major order)
        double[] h = NaiveLayers.embedding(p.get("local_encoder.tok_embeddings.weight"), dE, ids);
        int table = 0;
        for (int f = 0; f < c.encoderHashByteGroupNbFunctions(); f++)
            for (int n : c.hashSizes()) {
                double[] t = p.get("encoder_hash_tok_embedding." + table++ + ".weight");
                for (int b = 0; b < B; b++) {
                    int[] row = java.util.Arrays.copyOfRange(ids, b * N, (b + 1) * N);
                    for (int j = 0; j < N; j++) {
                        int id = hashId(row, j, n, f, c.encoderHashByteGroupVocab());
                        for (int d = 0; d < dE; d++) h[(b * N + j) * dE + d] += t[id * dE + d];
                    }
                }
            }

        // local encoder
        boolean[][] local = OracleMask.causal(ids, B, N, c.localWindow(), eos);
        var encShape = new NaiveLayers.AttentionShape(dE, c.nHeadsLocalEncoder(), c.localKvHeads(c.nHeadsLocalEncoder()),
                c.encoderHeadDim(), c.ropeTheta());
        boolean[][] encCross = new boolean[B * P * k][B * N];
        int wE = c.crossAttnWindowEncoder() == null ? 1 : c.crossAttnWindowEncoder();
        for (int b = 0; b < B; b++)
            for (int q = 0; q < P; q++)
                for (int j = 0; j < k; j++)
                    for (int i = 0; i < N; i++)
                        encCross[(b * P + q) * k + j][b * N + i] = pid[b][i] <= q && q < pid[b][i] + wE;
        int[] poolIds = new int[B * N];
        for (int b = 0; b < B; b++) for (int i = 0; i < N; i++) poolIds[b * N + i] = b * P + pid[b][i];
        double[] patch = null;
        for (int l = 0; l < c.nLayersLocalEncoder(); l++) {
            h = NaiveLayers.block(h, B, N, encShape, c.ffnHidden(dE), c.normEps(), p, "local_encoder.layers." + l + ".", local);
            boolean last = l == c.nLayersLocalEncoder() - 1;
            if (last || c.crossAttnAllLayersEncoder()) {
                if (patch == null) {
                    double[] pooled = maxPool(h, dE, poolIds, B * P);
                    patch = NaiveLayers.linear(pooled, B * P, dE, p.get("local_encoder.patch_embedding_projection.weight"), k * dE);
                }
                int layer = c.crossAttnAllLayersEncoder() ? l : 0;
                double[] ca = crossAttention(patch, B * P * k, h, B * N, dE, c.crossAttnNheads(), c.normEps(), p,
                        "local_encoder.cross_attn_layers." + layer + ".", encCross);
                for (int i = 0; i < patch.length; i++) ca[i] += patch[i];
                patch = ca;
            }
        }
        double[] bytes = h;

        // global transformer over patches: blocks end at patches that hold an EOS byte
        double[] g = patch;
        if (k * dE != dG)
            g = NaiveLayers.linear(g, B * P, k * dE, p.get("global_transformer.token_embedding_projection.weight"), dG);
        int[] globalTokens = new int[B * P];
        for (int b = 0; b < B; b++) for (int i = 0; i < N; i++) if (ids[b * N + i] == eos) globalTokens[b * P + pid[b][i]] = eos;
        boolean[][] globalMask = OracleMask.causal(globalTokens, B, P, 0, c.globalEosSegments() ? eos : -1);
        var globalShape = new NaiveLayers.AttentionShape(dG, c.nHeadsGlobal(), c.globalKvHeads(), c.globalHeadDim(), c.ropeTheta());
        for (int l = 0; l < c.nLayersGlobal(); l++)
            g = NaiveLayers.block(g, B, P, globalShape, c.ffnHidden(dG), c.normEps(), p, "global_transformer.layers." + l + ".", globalMask);

        // local decoder
        double[] kv = dG != dD
                ? NaiveLayers.linear(g, B * P, dG, p.get("local_decoder.patch_embedding_projection.weight"), k * dD) : g;
        boolean[][] decCross = new boolean[B * N][B * P * k];
        int wD = c.crossAttnWindowDecoder() == null ? 1 : c.crossAttnWindowDecoder();
        for (int b = 0; b < B; b++)
            for (int i = 0; i < N; i++)
                for (int q = 0; q < P; q++)
                    for (int j = 0; j < k; j++)
                        decCross[b * N + i][(b * P + q) * k + j] = q <= dpid[b][i] && dpid[b][i] < q + wD;
        var decShape = new NaiveLayers.AttentionShape(dD, c.nHeadsLocalDecoder(), c.localKvHeads(c.nHeadsLocalDecoder()),
                c.decoderHeadDim(), c.ropeTheta());
        h = bytes;
        for (int l = 0; l < c.nLayersLocalDecoder(); l++) {
            if (l == 0 || c.crossAttnAllLayersDecoder()) {
                double[] ca = crossAttention(h, B * N, kv, B * P * k, dD, c.crossAttnNheads(), c.normEps(), p,
                        "local_decoder.cross_attn_layers." + l + ".", decCross);
                for (int i = 0; i < h.length; i++) ca[i] += h[i];
                h = ca;
            }
            h = NaiveLayers.block(h, B, N, decShape, c.ffnHidden(dD), c.normEps(), p, "local_decoder.layers." + l + ".", local);
        }
        double[] n = NaiveLayers.rmsNorm(h, B * N, dD, p.get("local_decoder.norm.weight"), c.normEps());
        return NaiveLayers.linear(n, B * N, dD, p.get("local_decoder.output.weight"), c.vocabSize());
    }
}

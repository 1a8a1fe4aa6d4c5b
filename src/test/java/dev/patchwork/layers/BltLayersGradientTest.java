package dev.patchwork.layers;

import dev.patchwork.oracle.NaiveBlt;
import dev.patchwork.oracle.OracleParams;
import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.tensor.ParameterLayout;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static dev.patchwork.layers.GradientFixtures.checkLayer;
import static dev.patchwork.layers.GradientFixtures.gaussian;
import static dev.patchwork.layers.GradientFixtures.randomize;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The BLT's own layers against the double oracle ({@link NaiveBlt}): hash n-gram embeddings, max pooling of bytes
 * into patches, and cross-attention in both directions (patches query their bytes; bytes query the k vectors of their
 * patch), forward and backward (central differences), including empty patches.
 */
class BltLayersGradientTest {
    static final double EPS = 1e-5;

    /** Two rows of 7 bytes: row 0 ends with a patch holding only the virtual next byte, row 1 has an empty patch mid-row. */
    static final int B = 2, N = 7;
    static final int[][] LENGTHS = {{1, 3, 3, 1}, {1, 2, 0, 4, 1}};
    static final int P = 5;

    /** Absolute byte rows [from, to) of every patch b·P + p. */
    static int[][] patchRows() {
        int[] from = new int[B * P], to = new int[B * P];
        for (int b = 0; b < B; b++) {
            int start = 0;
            for (int p = 0; p < P; p++) {
                int len = p < LENGTHS[b].length ? LENGTHS[b][p] : 0;
                from[b * P + p] = b * N + Math.min(start, N);
                to[b * P + p] = b * N + Math.min(start + len, N);
                start += len;
            }
        }
        return new int[][]{from, to};
    }

    static int[] patchIdsOfRow(int b) {
        return NaiveBlt.patchIds(Arrays.copyOf(LENGTHS[b], P), N);
    }

    @Test
    void hashIdsMatchExactArithmeticForEveryFunctionAndSize() {
        var r = new SplittableRandom(31);
        int T = 40;
        int[] ids = new int[2 * T];
        for (int i = 0; i < ids.length; i++) ids[i] = r.nextInt(260);
        int[] out = new int[2 * T];
        int negative = 0, total = 0;
        for (int f = 0; f < HashNgramEmbedding.PRIMES.length; f++)
            for (int n = 1; n <= 8; n++) {
                HashNgramEmbedding.hashIds(ids, 2, T, n, f, 500002, out, 0);
                for (int b = 0; b < 2; b++) {
                    int[] row = Arrays.copyOfRange(ids, b * T, (b + 1) * T);
                    for (int t = 0; t < T; t++) {
                        assertEquals(NaiveBlt.hashId(row, t, n, f, 500002), out[b * T + t], "f" + f + " n" + n + " row " + b + " t " + t);
                        if (HashNgramEmbedding.rawHash(ids, b * T, t, n, HashNgramEmbedding.PRIMES[f]) < 0) negative++;
                        total++;
                    }
                }
            }
        // the floor modulo is exercised: many wrapped sums are negative
        assertTrue(negative > total / 4, negative + " negative of " + total);
    }

    @Test
    void hashNgramEmbedding() {
        var r = new SplittableRandom(32);
        int T = 9, dim = 5, vocab = 11, functions = 2;
        List<Integer> sizes = List.of(1, 3, 5);
        int[] ids = new int[B * T];
        for (int i = 0; i < ids.length; i++) ids[i] = r.nextInt(260);
        var b = ParameterLayout.builder();
        HashNgramEmbedding emb = new HashNgramEmbedding(b, "encoder_hash_tok_embedding.", sizes, functions, vocab, dim);
        ParameterBuffer p = ParameterBuffer.allocate(b.build());
        randomize(p, r);
        assertEquals(6, emb.tableCount());
        float[] y = new float[B * T * dim];
        checkLayer("hash embeddings", p, null, new GradientFixtures.FloatLayer() {
            public float[] forward(float[] x) {
                Arrays.fill(y, 0f);
                emb.forward(p, ids, B, T, y);
                return y;
            }

            public float[] backward(ParameterBuffer g, float[] dOut) {
                emb.backward(g, dOut);
                return null;
            }
        }, (op, x) -> {
            double[] out = new double[B * T * dim];
            for (int f = 0, table = 0; f < functions; f++)
                for (int n : sizes) {
                    double[] w = op.get("encoder_hash_tok_embedding." + table++ + ".weight");
                    for (int row = 0; row < B; row++) {
                        int[] rowIds = Arrays.copyOfRange(ids, row * T, (row + 1) * T);
                        for (int t = 0; t < T; t++) {
                            int id = NaiveBlt.hashId(rowIds, t, n, f, vocab);
                            for (int d = 0; d < dim; d++) out[(row * T + t) * dim + d] += w[id * dim + d];
                        }
                    }
                }
            return out;
        }, r);
    }

    @Test
    void maxPoolingRoutesTheGradientToTheMaximumAndEmptyPatchesAreZero() {
        var r = new SplittableRandom(33);
        int dim = 6;
        int[][] rows = patchRows();
        PatchMaxPool pool = new PatchMaxPool(dim);
        ParameterBuffer none = ParameterBuffer.allocate(ParameterLayout.builder().build());
        float[] out = new float[B * P * dim], dh = new float[B * N * dim];
        int[] poolIds = new int[B * N];
        for (int b = 0; b < B; b++) {
            int[] pid = patchIdsOfRow(b);
            for (int i = 0; i < N; i++) poolIds[b * N + i] = b * P + pid[i];
        }
        checkLayer("max pooling", none, gaussian(r, B * N * dim), new GradientFixtures.FloatLayer() {
            public float[] forward(float[] x) {
                pool.forward(x, B * P, rows[0], rows[1], out);
                return out;
            }

            public float[] backward(ParameterBuffer g, float[] dOut) {
                Arrays.fill(dh, 0f);
                pool.backward(dOut, dh);
                return dh;
            }
        }, (op, x) -> NaiveBlt.maxPool(x, dim, poolIds, B * P), r);
        for (int d = 0; d < dim; d++) {
            assertEquals(0f, out[(0 * P + 3) * dim + d], "row 0, patch 3 (the virtual byte alone) pools to 0");
            assertEquals(0f, out[(1 * P + 2) * dim + d], "row 1, patch 2 (length 0) pools to 0");
        }
    }

    /**
     * Encoder direction: the k query vectors of each patch attend the bytes of that patch; queries of a patch without
     * bytes see nothing, and their output is exactly the residual.
     */
    @Test
    void crossAttentionPatchesQueryTheirBytes() {
        int k = 2, dim = 8, heads = 2, queries = B * P * k, keys = B * N;
        int[][] rows = patchRows();
        AttentionMask mask = new AttentionMask(queries);
        boolean[][] dense = new boolean[queries][keys];
        for (int q = 0; q < B * P; q++)
            for (int j = 0; j < k; j++) {
                mask.from[q * k + j] = rows[0][q];
                mask.to[q * k + j] = rows[1][q];
            }
        for (int b = 0; b < B; b++) {
            int[] pid = patchIdsOfRow(b);
            for (int p = 0; p < P; p++)
                for (int j = 0; j < k; j++)
                    for (int i = 0; i < N; i++) dense[(b * P + p) * k + j][b * N + i] = pid[i] == p;
        }
        assertTrue(mask.from[(0 * P + 3) * k] == mask.to[(0 * P + 3) * k], "the virtual-byte patch sees no byte");
        checkCrossAttention("encoder cross-attention", 34, dim, heads, queries, keys, mask, dense);
    }

    /** Decoder direction: byte i attends the k vectors of its decoder patch {@code dpid[i]}. */
    @Test
    void crossAttentionBytesQueryTheVectorsOfTheirPatch() {
        int k = 2, dim = 8, heads = 2, queries = B * N, keys = B * P * k;
        AttentionMask mask = new AttentionMask(queries);
        boolean[][] dense = new boolean[queries][keys];
        for (int b = 0; b < B; b++) {
            int[] dpid = NaiveBlt.decoderPatchIds(Arrays.copyOf(LENGTHS[b], P), N);
            for (int i = 0; i < N; i++) {
                mask.from[b * N + i] = (b * P + dpid[i]) * k;
                mask.to[b * N + i] = (b * P + dpid[i] + 1) * k;
                for (int p = 0; p < P; p++) for (int j = 0; j < k; j++) dense[b * N + i][(b * P + p) * k + j] = p == dpid[i];
            }
        }
        checkCrossAttention("decoder cross-attention", 35, dim, heads, queries, keys, mask, dense);
    }

    /** Checks x + Wo·attn and the gradients of every parameter, of x and of kv (input = [x | kv]). */
    private static void checkCrossAttention(String what, long seed, int dim, int heads, int queries, int keys,
                                               AttentionMask mask, boolean[][] dense) {
        var r = new SplittableRandom(seed);
        String prefix = "cross_attn_layers.0.";
        var b = ParameterLayout.builder();
        CrossAttention ca = new CrossAttention(b, prefix, dim, heads, EPS);
        ParameterBuffer p = ParameterBuffer.allocate(b.build());
        randomize(p, r);
        int xn = queries * dim, kvn = keys * dim;
        float[] out = new float[xn], dcat = new float[xn + kvn];
        float[][] saved = new float[2][];
        checkLayer(what, p, gaussian(r, xn + kvn), new GradientFixtures.FloatLayer() {
            public float[] forward(float[] cat) {
                saved[0] = Arrays.copyOfRange(cat, 0, xn);
                saved[1] = Arrays.copyOfRange(cat, xn, xn + kvn);
                ca.forward(p, saved[0], queries, saved[1], keys, mask, out);
                return out;
            }

            public float[] backward(ParameterBuffer g, float[] dOut) {
                float[] dx = new float[xn], dkv = new float[kvn];
                ca.backward(p, g, dOut, dx, dkv);
                System.arraycopy(dx, 0, dcat, 0, xn);
                System.arraycopy(dkv, 0, dcat, xn, kvn);
                return dcat;
            }
        }, (OracleParams op, double[] cat) -> NaiveBlt.crossAttention(Arrays.copyOfRange(cat, 0, xn), queries,
                Arrays.copyOfRange(cat, xn, xn + kvn), keys, dim, heads, EPS, op, prefix, dense), r);
        for (int q = 0; q < queries; q++)
            if (mask.from[q] >= mask.to[q])
                for (int d = 0; d < dim; d++)
                    assertEquals(saved[0][q * dim + d], out[q * dim + d], "a query that sees nothing returns its input");
    }
}

package dev.patchwork.layers;

import dev.patchwork.model.Blt;
import dev.patchwork.model.BltConfig;
import dev.patchwork.oracle.FiniteDifferences;
import dev.patchwork.oracle.NaiveBlt;
import dev.patchwork.oracle.NaiveByteLm;
import dev.patchwork.oracle.OracleParams;
import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.tensor.ParameterLayout;
import dev.patchwork.util.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static dev.patchwork.layers.GradientFixtures.randomize;
import static dev.patchwork.oracle.GradientAssertions.FORWARD_REL;
import static dev.patchwork.oracle.GradientAssertions.assertForwardMatches;
import static dev.patchwork.oracle.GradientAssertions.assertGradientMatches;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The whole BLT against the double oracle {@link NaiveBlt} on tiny configs: logits, mean cross-entropy (PAD ignored)
 * and the gradient of every parameter through {@code forward → loss → backward}; and causality: changing byte t
 * changes no logit before t.
 */
class BltGradientCheckTest {
    static final int VOCAB = 20, EOS = 2, PAD = -1;

    /**
     * A: projections on both sides (k·dE = 16 ≠ dG = 12 ≠ dD = 8), 2 hash functions × n ∈ {2, 3}, a local window of
     * 3, cross-attention after the last encoder layer and in every decoder layer, block-causal global model.
     * B: no projections (k = 1, dG = dD = 8), cross-attention after each of 2 encoder layers and only in the first of 2
     * decoder layers, cross-attention windows of 2 patches, grouped-query attention, plain causal global model.
     */
    static BltConfig config(String which) {
        return config(which, VOCAB);
    }

    static BltConfig config(String which, int vocab) {
        String common = "\"dim_local_encoder\": 8, \"dim_local_decoder\": 8, \"ffn_dim_multiplier\": 0.5,"
                + "\"n_layers_local_decoder\": 2, \"n_layers_global\": 1, \"n_heads_local_encoder\": 2,"
                + "\"n_heads_local_decoder\": 2, \"cross_attn_nheads\": 2, \"encoder_hash_byte_group_size\": [2, 3],"
                + "\"encoder_hash_byte_group_nb_functions\": 2, \"encoder_hash_byte_group_vocab\": 7, \"vocab_size\": " + vocab + ","
                + "\"multiple_of\": 4, \"rope_theta\": 500.0, \"max_seqlen\": 16, \"max_encoder_seq_length\": 32, \"seed\": 5,";
        String json = switch (which) {
            case "A" -> "{" + common + "\"n_layers_local_encoder\": 1, \"dim_global\": 12, \"n_heads_global\": 2, \"cross_attn_k\": 2,"
                    + "\"local_attention_window_len\": 3, \"cross_attn_all_layers_encoder\": false,"
                    + "\"cross_attn_all_layers_decoder\": true, \"attn_bias_type\": \"block_causal\"}";
            case "B" -> "{" + common + "\"n_layers_local_encoder\": 2, \"dim_global\": 8, \"n_heads_global\": 2, \"n_kv_heads\": 1, \"n_kv_heads_global\": 1,"
                    + "\"cross_attn_k\": 1, \"cross_attn_all_layers_encoder\": true, \"cross_attn_all_layers_decoder\": false,"
                    + "\"cross_attn_window_encoder\": 2, \"cross_attn_window_decoder\": 2, \"attn_bias_type\": \"causal\"}";
            default -> throw new IllegalArgumentException(which);
        };
        try {
            return BltConfig.fromJson(Json.MAPPER.readTree(json), "config " + which);
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    @ParameterizedTest(name = "config {0}")
    @ValueSource(strings = {"A", "B"})
    void logitsLossAndEveryParameterGradient(String which) {
        BltConfig c = config(which);
        assertEquals(which.equals("A"), c.hasGlobalProjection() && c.hasDecoderProjection());
        var r = new SplittableRandom(which.hashCode());
        int B = 2, N = 9;
        // row 0: an EOS at byte 4 (inside patch 2, so the global model has a block boundary there) and a last patch
        // holding only the virtual next byte; row 1: fewer patches (padded with empty ones)
        int[][] lengths = {{1, 2, 3, 3, 1}, {1, 3, 6}};
        int[] ids = new int[B * N], targets = new int[B * N];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = 3 + r.nextInt(VOCAB - 3);
            targets[i] = r.nextInt(VOCAB);
        }
        ids[4] = EOS;
        targets[6] = PAD;
        targets[N + 2] = PAD;

        ParameterBuffer params = ParameterBuffer.allocate(Blt.layoutOf(c));
        randomize(params, r);
        Blt model = Blt.withParameters(c, params);
        float[] logits = model.forward(ids, B, N, lengths).clone();
        OracleParams op = OracleParams.of(params);
        assertForwardMatches("logits", logits, NaiveBlt.logits(c, op, ids, B, N, lengths));

        int counted = B * N - 2;
        double meanLoss = model.loss(targets, null, true) / counted;
        double oracleLoss = NaiveByteLm.meanCrossEntropy(NaiveBlt.logits(c, op, ids, B, N, lengths), VOCAB, targets);
        assertEquals(oracleLoss, meanLoss, FORWARD_REL * oracleLoss, "mean cross-entropy");

        // Compared on the summed loss (counted × the mean): the mean's gradients of some norm weights are below the
        // size at which GradientAssertions can tell a real gradient from a dropped one. Every entry of the small
        // tensors is checked, a random sample of the larger ones (each layer is checked whole in its own test; this
        // one proves the wiring, and the oracle forward is too slow to perturb all ~4700 parameters).
        ParameterBuffer grads = ParameterBuffer.allocate(model.layout());
        model.backward(grads);
        for (ParameterLayout.View v : model.layout().views()) {
            int[] sample = sample(r, (int) v.size());
            double[] numeric = FiniteDifferences.gradientAt(op.get(v.name()), sample, () -> counted
                    * NaiveByteLm.meanCrossEntropy(NaiveBlt.logits(c, op, ids, B, N, lengths), VOCAB, targets));
            float[] all = grads.toArray(v), analytic = new float[sample.length];
            for (int i = 0; i < sample.length; i++) analytic[i] = all[sample[i]] * counted;
            assertGradientMatches("config " + which + " ∂loss/∂" + v.name(), analytic, numeric);
        }
    }

    static final int SAMPLE = 32;

    /** All indices of a tensor of at most {@link #SAMPLE} entries, else {@link #SAMPLE} distinct random ones. */
    static int[] sample(SplittableRandom r, int size) {
        if (size <= SAMPLE) return java.util.stream.IntStream.range(0, size).toArray();
        return r.ints(0, size).distinct().limit(SAMPLE).sorted().toArray();
    }

    /** Patch starts from a rule that looks only at earlier bytes: BOS alone, then a new patch after every space. */
    static int[] spacePatches(int[] ids, int N) {
        List<Integer> lengths = new ArrayList<>(List.of(1));
        int start = 1;
        for (int k = 1; k < N; k++)
            if (ids[k] == ' ' + 4) {
                lengths.add(k + 1 - start);
                start = k + 1;
            }
        lengths.add(N + 1 - start); // the last patch runs to the virtual next byte
        return lengths.stream().mapToInt(Integer::intValue).toArray();
    }

    /** Static patches of 3 bytes after the BOS, the last one holding the rest (and the virtual next byte). */
    static int[] staticPatches(int N) {
        List<Integer> lengths = new ArrayList<>(List.of(1));
        for (int left = N; left > 0; left -= 3) lengths.add(Math.min(3, left));
        return lengths.stream().mapToInt(Integer::intValue).toArray();
    }

    @ParameterizedTest(name = "{0} patches")
    @ValueSource(strings = {"space", "static"})
    void changingByteTChangesNoLogitBeforeT(String rule) {
        Blt model = Blt.initialise(config("A", 260)); // reference initialisation, all 260 ids
        var r = new SplittableRandom(41);
        int N = 24, V = 260;
        int[] ids = new int[N];
        ids[0] = 1;
        for (int i = 1; i < N; i++) ids[i] = r.nextInt(4) == 0 ? ' ' + 4 : 'a' + 4 + r.nextInt(26);
        ids[11] = EOS; // EOS segments in the local and global masks as well
        float[] base = forward(model, ids, N, rule).clone();
        for (int t = 1; t < N; t++) {
            int[] changed = ids.clone();
            changed[t] = ids[t] == ' ' + 4 ? 'q' + 4 : ' ' + 4; // flips whether a patch starts after t
            float[] after = forward(model, changed, N, rule);
            for (int i = 0; i < t * V; i++)
                assertEquals(base[i], after[i], 1e-5f, rule + ": changing byte " + t + " changed logit " + i % V
                        + " at position " + i / V);
            boolean later = false;
            for (int i = t * V; i < N * V && !later; i++) later = Math.abs(base[i] - after[i]) > 1e-4;
            assertTrue(later, rule + ": changing byte " + t + " must change the logits at position " + t);
        }
    }

    private static float[] forward(Blt model, int[] ids, int N, String rule) {
        return model.forward(ids, N, rule.equals("space") ? spacePatches(ids, N) : staticPatches(N));
    }
}

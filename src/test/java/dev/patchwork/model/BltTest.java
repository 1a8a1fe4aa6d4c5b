package dev.patchwork.model;

import dev.patchwork.io.Checkpoint;
import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.tensor.ParameterLayout;
import dev.patchwork.train.AdamW;
import dev.patchwork.util.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** Initialisation (spec §7), save → load, and learning: the BLT as a whole. */
class BltTest {
    /** Standard deviation of N(0, σ²) truncated at ±3σ, divided by σ. */
    static final double TRUNCATED_STD = 0.98658;

    static BltConfig referenceShapes() throws Exception {
        return BltConfig.read(Path.of(BltTest.class.getResource("/reference-tiny/config.json").toURI()));
    }

    static double std(float[] v) {
        double s = 0, ss = 0;
        for (float x : v) {
            s += x;
            ss += x * x;
        }
        double mean = s / v.length;
        return Math.sqrt(ss / v.length - mean * mean);
    }

    static void assertInit(Blt m, String name, double sigma, double tolerance) {
        float[] v = m.parameters().toArray(m.layout().view(name));
        assertEquals(sigma * TRUNCATED_STD, std(v), tolerance * sigma, name + " σ");
        for (float x : v) assertTrue(Math.abs(x) <= 3 * sigma + 1e-6, name + " value " + x + " beyond 3σ");
    }

    @Test
    void initialisationFollowsTheReference() throws Exception {
        Blt m = Blt.initialise(referenceShapes()); // current_depth: layer/cross-attention i is divided by √(2(i+1))
        double dE = 24, dG = 80;
        assertInit(m, "local_encoder.tok_embeddings.weight", Math.pow(dE, -0.5), 0.04);
        assertInit(m, "encoder_hash_tok_embedding.7.weight", Math.pow(dE, -0.5), 0.03);
        assertInit(m, "local_decoder.output.weight", Math.pow(dE, -0.5), 0.04);
        assertInit(m, "local_encoder.patch_embedding_projection.weight", Math.pow(dE, -0.5), 0.06);
        assertInit(m, "global_transformer.token_embedding_projection.weight", Math.pow(2 * dE, -0.5), 0.06);
        assertInit(m, "local_decoder.patch_embedding_projection.weight", Math.pow(dG, -0.5), 0.06);
        assertInit(m, "local_decoder.cross_attn_layers.1.wq.weight", Math.pow(dE, -0.5) / 2, 0.1);
        assertInit(m, "local_decoder.cross_attn_layers.1.wo.weight", Math.pow(dE, -0.5) / 2, 0.1);
        assertInit(m, "local_decoder.cross_attn_layers.0.wk.weight", Math.pow(dE, -0.5) / Math.sqrt(2), 0.1);
        assertInit(m, "global_transformer.layers.1.attention.wq.weight", Math.pow(dG, -0.5), 0.06);
        float[] wo = m.parameters().toArray(m.layout().view("global_transformer.layers.1.attention.wo.weight"));
        assertEquals(Math.pow(dG, -0.5) / 2 * TRUNCATED_STD, std(wo), 0.06 * Math.pow(dG, -0.5) / 2, "global wo");
        for (ParameterLayout.View v : m.layout().views())
            if (!v.isMatrix()) for (float x : m.parameters().toArray(v)) assertEquals(1f, x, v.name());
        // the same seed gives the same model
        Blt again = Blt.initialise(referenceShapes());
        for (ParameterLayout.View v : m.layout().views())
            assertArrayEquals(m.parameters().toArray(v), again.parameters().toArray(v), v.name());
    }

    @Test
    void anInitialisedModelPredictsNearlyUniformly() throws Exception {
        Blt m = Blt.initialise(referenceShapes());
        int N = 40;
        int[] ids = new int[N], y = new int[N];
        for (int i = 0; i < N; i++) {
            ids[i] = i == 0 ? 1 : 4 + 'a' + i % 26;
            y[i] = 4 + 'a' + (i + 1) % 26;
        }
        int[] lengths = {1, 10, 10, 10, 10};
        m.forward(ids, N, lengths);
        double loss = m.loss(y, null, false) / N;
        assertEquals(Math.log(260), loss, 1.0, "initial loss " + loss);
    }

    @Test
    void saveThenLoadGivesIdenticalLogits(@TempDir Path tmp) throws Exception {
        Blt m = Blt.initialise(referenceShapes());
        Checkpoint.builder(m.config().toJson(), m.parameters()).save(tmp.resolve("ckpt"));
        BltConfig read = BltConfig.read(tmp.resolve("ckpt").resolve(Checkpoint.CONFIG_FILE));
        assertEquals(m.config(), read);
        Blt loaded = Blt.uninitialised(read);
        Checkpoint.loadModel(tmp.resolve("ckpt"), loaded.parameters());
        int N = 30;
        int[] ids = new int[N];
        for (int i = 0; i < N; i++) ids[i] = i == 0 ? 1 : 4 + (i * 37) % 256;
        int[] lengths = {1, 4, 7, 2, 9, 8};
        float[] a = m.forward(ids, N, lengths).clone();
        assertArrayEquals(a, loaded.forward(ids, N, lengths));
    }

    /** A tiny BLT memorises two windows of a short text: forward, loss, backward and AdamW work together. */
    @Test
    void aTinyBltLearnsASyntheticCorpus() throws Exception {
        BltConfig c = BltConfig.fromJson(Json.MAPPER.readTree("""
                {"dim_local_encoder": 16, "dim_local_decoder": 16, "dim_global": 32, "n_layers_local_encoder": 1,
                 "n_layers_local_decoder": 1, "n_layers_global": 2, "n_heads_local_encoder": 2,
                 "n_heads_local_decoder": 2, "n_heads_global": 4, "cross_attn_k": 2, "cross_attn_nheads": 2,
                 "cross_attn_all_layers_decoder": true, "encoder_hash_byte_group_size": [3, 4],
                 "encoder_hash_byte_group_nb_functions": 1, "encoder_hash_byte_group_vocab": 101,
                 "local_attention_window_len": 16, "multiple_of": 16, "max_seqlen": 64, "max_encoder_seq_length": 64,
                 "init_std_factor": "current_depth", "seed": 3}"""), "tiny");
        Blt m = Blt.initialise(c);
        byte[] text = "the quick brown fox jumps over the lazy dog. ".repeat(3).getBytes(StandardCharsets.US_ASCII);
        int B = 2, N = 40;
        int[] ids = new int[B * N], y = new int[B * N];
        int[][] lengths = new int[B][];
        for (int b = 0; b < B; b++) {
            int offset = 7 * b;
            ids[b * N] = 1; // BOS
            for (int i = 1; i < N; i++) ids[b * N + i] = text[offset + i - 1] + 4;
            for (int i = 0; i < N; i++) y[b * N + i] = text[offset + i] + 4;
            List<Integer> l = new ArrayList<>(List.of(1));
            for (int left = N; left > 0; left -= 4) l.add(Math.min(4, left)); // static patches of 4
            lengths[b] = l.stream().mapToInt(Integer::intValue).toArray();
        }
        ParameterBuffer grads = ParameterBuffer.allocate(m.layout());
        AdamW opt = new AdamW(m.layout(), 0.9, 0.95, 1e-8, 0.0);
        double first = 0, loss = 0;
        int step = 0;
        for (; step < 300; step++) {
            m.forward(ids, B, N, lengths);
            loss = m.loss(y, null, true) / (B * N);
            if (step == 0) first = loss;
            if (loss < 0.02) break;
            grads.zero();
            m.backward(grads);
            opt.step(m.parameters(), grads, 1e-2);
        }
        System.out.printf("tiny BLT: loss %.2f -> %.4f nats in %d steps%n", first, loss, step);
        assertTrue(first > 4, "initial loss " + first);
        assertTrue(loss < 0.02, "loss after training " + loss);
    }
}

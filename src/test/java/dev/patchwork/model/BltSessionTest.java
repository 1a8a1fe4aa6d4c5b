package dev.patchwork.model;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.patchwork.util.Json;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/**
 * {@link Blt.Session} (KV caches, the global model once per patch) gives, at every position, the logits of the full
 * forward pass: patches are prefix-stable, so one forward over the whole sequence with the patches of its ids plus the
 * virtual next byte holds every position's logits. Covers EOS inside and at the end of patches (local segments and
 * the global model's blocks), windows shorter than the sequence (the sliding caches move their rows), cross-attention
 * after every encoder layer, one decoder cross-attention layer, and k = 1 without projections.
 */
class BltSessionTest {
    static ObjectNode config() {
        ObjectNode c = Json.MAPPER.createObjectNode();
        c.put("dim_global", 32).put("dim_local_encoder", 16).put("dim_local_decoder", 16);
        c.put("n_layers_global", 2).put("n_layers_local_encoder", 2).put("n_layers_local_decoder", 2);
        c.put("n_heads_global", 4).put("n_heads_local_encoder", 2).put("n_heads_local_decoder", 2);
        c.put("cross_attn_k", 2).put("cross_attn_nheads", 2).put("cross_attn_all_layers_decoder", true);
        c.putArray("encoder_hash_byte_group_size").add(3).add(5);
        c.put("encoder_hash_byte_group_nb_functions", 1).put("encoder_hash_byte_group_vocab", 53);
        c.put("local_attention_window_len", 7).put("max_encoder_seq_length", 256).put("max_seqlen", 128);
        c.put("multiple_of", 16).put("rope_theta", 10000.0).put("seed", 5);
        return c;
    }

    static void assertSessionMatchesForward(BltConfig config, long seed) {
        Blt model = Blt.initialise(config);
        SplittableRandom r = new SplittableRandom(seed);
        int T = 70;
        int[] ids = new int[T];
        boolean[] ends = new boolean[T];
        ids[0] = 1;
        ends[0] = true;
        for (int t = 1; t < T; t++) {
            ids[t] = r.nextInt(12) == 0 ? 2 : 4 + r.nextInt(256); // EOS now and then, inside or at the end of patches
            ends[t] = r.nextInt(3) == 0;
        }
        List<Integer> lengths = new ArrayList<>();
        int open = 0;
        for (int t = 0; t < T; t++) {
            open++;
            if (ends[t]) {
                lengths.add(open);
                open = 0;
            }
        }
        lengths.add(open + 1); // the open bytes and the virtual next byte
        float[] full = model.forward(ids, T, lengths.stream().mapToInt(Integer::intValue).toArray()).clone();

        Blt.Session s = model.newSession(T);
        int closed = 0;
        for (int t = 0; t < T; t++) {
            float[] step = s.step(ids[t], ends[t], true);
            if (ends[t]) closed++;
            assertEquals(closed, s.patches(), "the global model steps once per closed patch");
            for (int v = 0; v < model.vocab(); v++)
                assertEquals(full[t * model.vocab() + v], step[v], 1e-4, "position " + t + " id " + v);
        }
        assertEquals(T, s.position());
    }

    @Test
    void sessionLogitsEqualTheFullForwardPass() {
        assertSessionMatchesForward(BltConfig.fromJson(config(), "test"), 1);
    }

    @Test
    void variants() {
        ObjectNode allEncoderLayers = config().put("cross_attn_all_layers_encoder", true).put("cross_attn_all_layers_decoder", false);
        assertSessionMatchesForward(BltConfig.fromJson(allEncoderLayers, "all encoder layers"), 2);
        ObjectNode causalGlobal = config().put("attn_bias_type", "causal").put("n_layers_local_encoder", 1);
        causalGlobal.remove("local_attention_window_len"); // no window: the caches keep every position
        assertSessionMatchesForward(BltConfig.fromJson(causalGlobal, "causal global, no window"), 3);
        ObjectNode k1 = config().put("cross_attn_k", 1).put("dim_global", 16).put("encoder_hash_byte_group_nb_functions", 0);
        assertSessionMatchesForward(BltConfig.fromJson(k1, "k = 1, no projections, no hashes"), 4);
    }

    @Test
    void theFirstIdMustEndItsPatch() {
        Blt model = Blt.initialise(BltConfig.fromJson(config(), "test"));
        var e = assertThrows(IllegalArgumentException.class, () -> model.newSession(8).step(1, false, true));
        assertTrue(e.getMessage().contains("first id"), e.getMessage());
    }

    @Test
    void promptIdsNeedNoLogits() {
        Blt model = Blt.initialise(BltConfig.fromJson(config(), "test"));
        Blt.Session s = model.newSession(8);
        assertNull(s.step(1, true, false));
        assertNotNull(s.step(50, false, true));
    }
}

package dev.patchwork.io;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class HfNamesTest {
    @Test
    void bltNamesMapBothWays() {
        String[][] pairs = {
                {"local_encoder.tok_embeddings.weight", "model.local_encoder.embed_tokens.weight"},
                {"global_transformer.layers.3.attention.wq.weight", "model.global_transformer.layers.3.self_attn.q_proj.weight"},
                {"local_decoder.layers.0.attention.wo.weight", "model.local_decoder.layers.0.self_attn.o_proj.weight"},
                {"local_decoder.layers.0.feed_forward.w1.weight", "model.local_decoder.layers.0.mlp.gate_proj.weight"},
                {"local_decoder.layers.0.feed_forward.w2.weight", "model.local_decoder.layers.0.mlp.down_proj.weight"},
                {"local_decoder.layers.0.feed_forward.w3.weight", "model.local_decoder.layers.0.mlp.up_proj.weight"},
                {"local_encoder.layers.0.attention_norm.weight", "model.local_encoder.layers.0.input_layernorm.weight"},
                {"local_encoder.layers.0.ffn_norm.weight", "model.local_encoder.layers.0.post_attention_layernorm.weight"},
                {"local_decoder.cross_attn_layers.2.cross_attn_norm_q.weight", "model.local_decoder.cross_attn_layers.2.q_norm.weight"},
                {"local_decoder.cross_attn_layers.2.cross_attn_norm_kv.weight", "model.local_decoder.cross_attn_layers.2.k_norm.weight"},
                {"local_decoder.cross_attn_layers.2.wk.weight", "model.local_decoder.cross_attn_layers.2.k_proj.weight"},
                {"local_decoder.output.weight", "lm_head.weight"},
                {"local_decoder.norm.weight", "model.local_decoder.norm.weight"},
                {"local_encoder.patch_embedding_projection.weight", "model.local_encoder.patch_embedding_projection.weight"}};
        for (String[] p : pairs) {
            assertEquals(p[1], HfNames.bltToHf(p[0]));
            assertEquals(p[0], HfNames.bltFromHf(p[1]));
        }
    }

    @Test
    void entropyNamesGoUnderThePatcher() {
        assertEquals("model.patcher.lm_head.weight", HfNames.entropyToHf("output.weight"));
        assertEquals("model.patcher.embed_tokens.weight", HfNames.entropyToHf("tok_embeddings.weight"));
        assertEquals("model.patcher.layers.13.mlp.down_proj.weight", HfNames.entropyToHf("layers.13.feed_forward.w2.weight"));
        assertEquals("layers.13.attention.wv.weight", HfNames.entropyFromHf("model.patcher.layers.13.self_attn.v_proj.weight"));
        assertEquals("norm.weight", HfNames.entropyFromHf("model.patcher.norm.weight"));
    }

    @Test
    void hashTablesAreRecognisedAndNotRenamedOneByOne() {
        assertEquals(5, HfNames.hashTableIndex("encoder_hash_tok_embedding.5.weight"));
        assertEquals(-1, HfNames.hashTableIndex("encoder_hash_tok_embedding.weight"));
        assertEquals(-1, HfNames.hashTableIndex("encoder_hash_tok_embedding.x.weight"));
        assertThrows(IllegalArgumentException.class, () -> HfNames.bltToHf("encoder_hash_tok_embedding.0.weight"));
        assertThrows(IllegalArgumentException.class, () -> HfNames.bltFromHf("model.patcher.norm.weight"));
        assertThrows(IllegalArgumentException.class, () -> HfNames.entropyFromHf("model.norm.weight"));
    }
}

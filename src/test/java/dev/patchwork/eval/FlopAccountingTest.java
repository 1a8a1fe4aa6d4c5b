package dev.patchwork.eval;

import dev.patchwork.model.BltConfig;
import dev.patchwork.model.ByteLmConfig;
import dev.patchwork.util.Json;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/** The paper's FLOP accounting (spec §10): its worked example to the FLOP, and Table 2's inference classes. */
class FlopAccountingTest {
    /** Spec §10's worked example: n_ctx 1024, n_p 4, k 2; global 512×4, encoder 256×1 (w 128), decoder 256×2 (w 128). */
    static final FlopAccounting.BltShape EXAMPLE = new FlopAccounting.BltShape(512, 4, 256, 1, 1, 128, 256, 2, 2, 128, 2);

    @Test
    void theWorkedExampleTermByTerm() {
        assertEquals(26_218_496, FlopAccounting.transformer(512, 4, 256, 0));
        assertEquals(1_638_912, FlopAccounting.transformer(256, 1, 128, 0));
        assertEquals(3_408_896, FlopAccounting.transformer(256, 2, 128, 256));
        assertEquals(394_496, FlopAccounting.crossAttention(1, 256, 4, 2) * 2 / 4);
        assertEquals(789_504, FlopAccounting.crossAttention(2, 256, 2, 0.5));
    }

    @Test
    void theWorkedExampleInTotal() {
        double inference = FlopAccounting.bltPerByte(EXAMPLE, 1024, 4);
        assertEquals(12_786_432, inference);
        assertEquals(38_359_296, FlopAccounting.train(inference));
    }

    @Test
    void aBltConfigGivesTheSameShape() {
        BltConfig c = BltConfig.fromJson(Json.MAPPER.createObjectNode()
                .put("dim_global", 512).put("n_layers_global", 4).put("n_heads_global", 8)
                .put("dim_local_encoder", 256).put("n_layers_local_encoder", 1).put("n_heads_local_encoder", 4)
                .put("dim_local_decoder", 256).put("n_layers_local_decoder", 2).put("n_heads_local_decoder", 4)
                .put("local_attention_window_len", 128).put("cross_attn_k", 2).put("cross_attn_nheads", 4)
                .put("cross_attn_all_layers_decoder", true).put("cross_attn_all_layers_encoder", false), "test");
        assertEquals(EXAMPLE, FlopAccounting.BltShape.of(c));
        assertEquals(12_786_432, FlopAccounting.bltPerByte(c, 1024, 4));
        // a cross-attention in every encoder layer counts every layer (Eq. 16)
        FlopAccounting.BltShape allEncoder = new FlopAccounting.BltShape(512, 4, 256, 3, 3, 128, 256, 2, 2, 128, 2);
        FlopAccounting.BltShape lastEncoder = new FlopAccounting.BltShape(512, 4, 256, 3, 1, 128, 256, 2, 2, 128, 2);
        assertEquals(2 * 394_496, FlopAccounting.bltPerByte(allEncoder, 1024, 4) - FlopAccounting.bltPerByte(lastEncoder, 1024, 4));
    }

    /** Table 2's 3.1E8 class: Llama 2 470m (24 × 1280, V 32000) at 3.7 bytes per token, 8192-byte context. */
    @Test
    void llama2At470mIsTable2sSmallClass() {
        double perToken = FlopAccounting.transformer(1280, 24, 8192 / 3.7, 32000);
        assertEquals(943_718_400 + 136_092_921 + 81_920_000, perToken, 1.0);
        double perByte = FlopAccounting.bpePerByte(1280, 24, 32000, 8192, 3.7);
        assertEquals(3.14e8, perByte, 0.005e8);
        assertEquals(2.13e9, FlopAccounting.bpePerByte(3072, 32, 32000, 8192, 3.7), 0.01e9); // the 2.1E9 class (3.6B)
    }

    @Test
    void aByteLmIsATokenModelWithOneBytePerTokenAndTheByteVocabulary() {
        ByteLmConfig full = ByteLmConfig.fromJson(Json.MAPPER.createObjectNode().put("dim", 128).put("n_layers", 4)
                .put("n_heads", 4).put("max_seqlen", 1024), "test");
        assertEquals(FlopAccounting.bpePerByte(128, 4, 256, 1024, 1), FlopAccounting.byteLmPerByte(full, 1024));
        ByteLmConfig windowed = ByteLmConfig.fromJson(Json.MAPPER.createObjectNode().put("dim", 128).put("n_layers", 4)
                .put("n_heads", 4).put("max_seqlen", 1024).put("sliding_window", 64), "test");
        assertEquals(FlopAccounting.transformer(128, 4, 64, 256), FlopAccounting.byteLmPerByte(windowed, 1024));
        assertEquals(FlopAccounting.transformer(128, 4, 32, 256), FlopAccounting.byteLmPerByte(windowed, 32)); // context < window
    }

    @Test
    void badInputsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> FlopAccounting.bltPerByte(EXAMPLE, 1024, 0));
        assertThrows(IllegalArgumentException.class, () -> FlopAccounting.bltPerByte(EXAMPLE, 0, 4));
        assertThrows(IllegalArgumentException.class, () -> FlopAccounting.bpePerByte(1, 1, 1, 10, 0));
    }
}

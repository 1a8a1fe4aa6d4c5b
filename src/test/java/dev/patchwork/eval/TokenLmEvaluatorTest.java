package dev.patchwork.eval;

import dev.patchwork.model.ByteLm;
import dev.patchwork.model.ByteLmConfig;
import dev.patchwork.tokenizer.BpeTokenizer;
import dev.patchwork.tokenizer.BpeTrainer;
import dev.patchwork.util.PatchworkException;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.*;

class TokenLmEvaluatorTest {
    private static ByteLmConfig config(int vocab, int maxSeqlen) {
        return new ByteLmConfig(16, 1, null, 2, null, null, 16, 1e-5, 10000.0, null,
                "disabled", maxSeqlen, 7L, vocab, false, null, "local_block_causal", null, 2, null, null, null);
    }

    @Test
    void bitsPerByteByHandWithAUniformModel() {
        // merges (see BpeTokenizerTest): "ug", "hug", " p", " hug"; "hug hug pug" -> [hug][ hug][ p][ug]
        BpeTokenizer tok = BpeTrainer.train("hug hug hug pug pun".getBytes(StandardCharsets.UTF_8), 260);
        assertEquals(260, tok.vocabSize());
        // all-zero weights: every logit is 0, so every prediction costs ln(264) nats
        ByteLm uniform = ByteLm.uninitialised(config(264, 16));
        byte[] doc = "hug hug pug".getBytes(StandardCharsets.UTF_8);
        // targets: 4 tokens + EOS = 5; bytes covered: 11 + 1 (EOS) = 12
        double expected = 5 * Math.log(264) / (Math.log(2) * 12);
        for (int seqLen : new int[]{16, 2, 1}) { // one window, or several windows that each see only their own tokens
            TokenLmEvaluator.Result r = new TokenLmEvaluator(uniform, tok, 3, seqLen).evaluate(doc);
            assertEquals(expected, r.bitsPerByte(), 1e-6, "seq_len " + seqLen);
            assertEquals(5, r.tokens());
            assertEquals(11, r.bytes());
            assertEquals(1, r.documents());
        }
        // two documents: (5 + 2) targets over (11 + 1) + (2 + 1) bytes covered ("ug" is one token)
        TokenLmEvaluator.Result two = new TokenLmEvaluator(uniform, tok, 2, 4).evaluate(doc, "ug".getBytes(StandardCharsets.UTF_8));
        assertEquals(7 * Math.log(264) / (Math.log(2) * 15), two.bitsPerByte(), 1e-6);
        assertEquals(7, two.tokens());
    }

    @Test
    void aModelOfTheWrongVocabularyIsRefused() {
        BpeTokenizer tok = BpeTrainer.train("hug hug hug pug pun".getBytes(StandardCharsets.UTF_8), 260);
        var e = assertThrows(PatchworkException.class, () -> new TokenLmEvaluator(ByteLm.uninitialised(config(260, 16)), tok, 1, 8));
        assertTrue(e.getMessage().contains("not 4 + the tokenizer's 260 tokens"), e.getMessage());
    }
}

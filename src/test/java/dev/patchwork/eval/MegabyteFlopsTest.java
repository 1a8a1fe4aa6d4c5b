package dev.patchwork.eval;

import dev.patchwork.model.MegabyteConfig;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** MEGABYTE's FLOPs per byte in the BLT paper's accounting, checked against sums done by hand. */
class MegabyteFlopsTest {
    /** P = 2, D_G = 4 (global width 8), 1 global layer; local width 4, 1 layer. */
    static final MegabyteConfig SMALL = new MegabyteConfig(2, 4, 1, 2, 4, 1, 2, null, 8, 8, 260, 1e-5, 10000.0, 1L);

    @Test
    void aSmallConfigByHand() {
        // global, once per patch: TF(8, 1, m = 8/2 = 4, V = 0) = 24·64 + 2·8·5 = 1616, per byte 1616/2 = 808
        // local, every byte:      TF(4, 1, m = P = 2, V = 256) = 24·16 + 2·4·3 + 2·4·256 = 384 + 24 + 2048 = 2456
        assertEquals(808 + 2456, FlopAccounting.megabytePerByte(SMALL, 8), 1e-9);
        assertEquals(3 * (808 + 2456), FlopAccounting.train(FlopAccounting.megabytePerByte(SMALL, 8)), 1e-9);
    }

    @Test
    void onlyTheGlobalAttentionGrowsWithTheContext() {
        // doubling the context to 16 adds 2·8·(8+1)/2 − 2·8·(4+1)/2 = 72 − 40 = 32 FLOPs per byte (global attention)
        assertEquals(32, FlopAccounting.megabytePerByte(SMALL, 16) - FlopAccounting.megabytePerByte(SMALL, 8), 1e-9);
    }

    @Test
    void theTinyConfigCostsLessPerByteThanTheByteLmOfTheSameSize() {
        var tiny = new MegabyteConfig(4, 32, 3, 4, 64, 4, 4, null, 32, 256, 260, 1e-5, 10000.0, 1L);
        // global TF(128, 3, 64, 0)/4 = (1179648 + 49920)/4 = 307392; local TF(64, 4, 4, 256) = 393216 + 2560 + 32768
        assertEquals(307392 + 428544, FlopAccounting.megabytePerByte(tiny, 256), 1e-6);
    }

    @Test
    void anEmptyContextIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> FlopAccounting.megabytePerByte(SMALL, 0));
    }
}

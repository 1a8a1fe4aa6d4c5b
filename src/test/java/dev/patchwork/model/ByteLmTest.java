package dev.patchwork.model;

import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.train.AdamW;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

class ByteLmTest {
    static ByteLmConfig tiny(Integer window, String bias) {
        return new ByteLmConfig(16, 2, null, 4, 2, null, 8, 1e-5, 10000.0, null, "current_depth", 32, 3L, 260,
                false, window, bias, null, 2, null, null, null);
    }

    @Test
    void incrementalDecodingGivesTheLogitsOfTheFullForwardPass() {
        for (Integer window : new Integer[]{null, 5}) {
            ByteLm model = ByteLm.initialise(tiny(window, "local_block_causal"));
            int T = 20;
            int[] ids = new int[T];
            SplittableRandom r = new SplittableRandom(1);
            for (int i = 0; i < T; i++) ids[i] = 4 + r.nextInt(256);
            ids[0] = 1;
            ids[9] = 2; // an EOS in the middle: attention must restart after it
            float[] full = model.forward(ids, 1, T).clone();
            ByteLm.Session s = model.newSession(T);
            for (int t = 0; t < T; t++) {
                float[] step = s.step(ids[t]);
                for (int v = 0; v < 260; v++)
                    assertEquals(full[t * 260 + v], step[v], 2e-4, "window " + window + " position " + t + " id " + v);
            }
        }
    }

    @Test
    void saveThenLoadGivesIdenticalLogits(@org.junit.jupiter.api.io.TempDir java.nio.file.Path tmp) {
        ByteLm model = ByteLm.initialise(tiny(6, "local_block_causal"));
        dev.patchwork.io.Checkpoint.builder(model.config().toJson(), model.parameters()).save(tmp.resolve("ckpt"));
        ByteLm loaded = ByteLmCheckpoint.load(tmp.resolve("ckpt"));
        assertEquals(model.config(), loaded.config());
        int[] ids = {1, 50, 60, 70, 2, 1, 80, 90};
        assertArrayEquals(model.forward(ids, 2, 4).clone(), loaded.forward(ids, 2, 4));
    }

    @Test
    void eosSegmentsCutAttention() {
        ByteLm model = ByteLm.initialise(tiny(null, "local_block_causal"));
        int[] a = {1, 10, 20, 2, 30, 40, 50};
        int[] b = {1, 99, 77, 2, 30, 40, 50};
        float[] la = model.forward(a, 1, 7).clone();
        float[] lb = model.forward(b, 1, 7).clone();
        // positions after the EOS see only their own segment; positions are still absolute, so the outputs match
        for (int t = 4; t < 7; t++)
            for (int v = 0; v < 260; v++) assertEquals(la[t * 260 + v], lb[t * 260 + v], 1e-5);
        // but before the EOS they differ
        assertNotEquals(la[2 * 260 + 5], lb[2 * 260 + 5]);
    }

    @Test
    void causality() {
        ByteLm model = ByteLm.initialise(tiny(4, "causal"));
        int[] a = {1, 10, 20, 30, 40, 50, 60, 70};
        int[] b = a.clone();
        b[5] = 200;
        float[] la = model.forward(a, 1, 8).clone();
        float[] lb = model.forward(b, 1, 8).clone();
        for (int t = 0; t < 5; t++)
            for (int v = 0; v < 260; v++) assertEquals(la[t * 260 + v], lb[t * 260 + v], 0f);
        assertNotEquals(la[5 * 260 + 7], lb[5 * 260 + 7]);
    }

    @Test
    void learnsARepeatingSequenceToNearZeroLoss() {
        ByteLm model = ByteLm.initialise(tiny(null, "local_block_causal"));
        ParameterBuffer grads = ParameterBuffer.allocate(model.layout());
        AdamW opt = new AdamW(model.layout(), 0.9, 0.95, 1e-8, 0.0);
        byte[] text = "abcdefgh-abcdefgh-".repeat(8).getBytes();
        int B = 4, T = 24;
        int[] x = new int[B * T], y = new int[B * T];
        SplittableRandom r = new SplittableRandom(5);
        double loss = 0;
        for (int step = 0; step < 300; step++) {
            for (int b = 0; b < B; b++) {
                int o = r.nextInt(text.length - T - 1);
                for (int t = 0; t < T; t++) {
                    x[b * T + t] = (text[o + t] & 0xff) + 4;
                    y[b * T + t] = (text[o + t + 1] & 0xff) + 4;
                }
            }
            grads.zero();
            model.forward(x, B, T);
            loss = model.loss(y, null, true) / (B * T);
            model.backward(grads);
            opt.step(model.parameters(), grads, 1e-2);
        }
        // the first byte of each window is unpredictable given only itself, the rest is determined after 1 byte
        assertTrue(loss < 0.15, "final loss " + loss);
    }
}

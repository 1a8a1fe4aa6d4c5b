package dev.patchwork.train;

import dev.patchwork.model.ByteLm;
import dev.patchwork.model.ByteLmConfig;
import dev.patchwork.model.Megabyte;
import dev.patchwork.model.MegabyteConfig;
import dev.patchwork.model.WindowModel;
import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.util.Json;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A batch trained on replicas gives the loss and the gradient of the whole batch on one model, up to float
 * reassociation: every replica's gradient is scaled by the batch's count of targets (ignored targets included in the
 * test, so a replica's own count would differ), and the replicas' gradients add up. Also: backward adds into the
 * caller's buffer, and the same replicas give the same bits run after run.
 */
class WindowReplicasTest {
    private static ByteLm byteLm() throws Exception {
        return ByteLm.initialise(ByteLmConfig.fromJson(Json.MAPPER.readTree(
                "{\"dim\": 32, \"n_layers\": 2, \"n_heads\": 4, \"max_seqlen\": 16, \"multiple_of\": 16}"), "test"));
    }

    private static Megabyte megabyte() {
        return Megabyte.initialise(MegabyteConfig.fromJson(
                Json.readTree(Path.of("configs/megabyte-tiny.json")).get("model"), "megabyte-tiny"));
    }

    @Test
    void replicasGiveTheWholeBatchsLossAndGradient() throws Exception {
        for (WindowModel model : new WindowModel[] {byteLm(), megabyte()}) {
            int B = 5, T = 16;
            int[] x = new int[B * T], y = new int[B * T];
            SplittableRandom r = new SplittableRandom(4);
            for (int i = 0; i < x.length; i++) {
                x[i] = 4 + r.nextInt(250);
                y[i] = i % 7 == 3 ? -1 : 4 + r.nextInt(250); // some ignored targets, unevenly spread over the rows
            }
            ParameterBuffer expected = ParameterBuffer.allocate(model.layout());
            model.forward(x, B, T);
            double expectedLoss = model.loss(y, null, true);
            model.backward(expected);
            float[] e = toArray(expected);
            double scale = 0;
            for (float v : e) scale = Math.max(scale, Math.abs(v));

            for (int replicas : new int[] {1, 2, 3, 5}) {
                WindowReplicas team = new WindowReplicas(model, replicas);
                ParameterBuffer grads = ParameterBuffer.allocate(model.layout());
                double loss = team.forwardLoss(x, y, B, T);
                team.backward(grads);
                String what = model.getClass().getSimpleName() + ", " + replicas + " replicas";
                assertEquals(expectedLoss, loss, 1e-5 * Math.abs(expectedLoss), what + ": summed loss");
                assertEquals(loss, team.loss(x, y, B, T), 0, what + ": evaluation loss (no gradient)");
                float[] g = toArray(grads);
                for (int i = 0; i < g.length; i++)
                    assertEquals(e[i], g[i], 1e-5 * scale, what + ": gradient " + i);
            }
        }
    }

    @Test
    void backwardAddsIntoTheCallersBufferAndRepeatsBitForBit() throws Exception {
        ByteLm model = byteLm();
        int B = 4, T = 16;
        int[] x = new int[B * T], y = new int[B * T];
        SplittableRandom r = new SplittableRandom(5);
        for (int i = 0; i < x.length; i++) {
            x[i] = 4 + r.nextInt(250);
            y[i] = 4 + r.nextInt(250);
        }
        WindowReplicas team = new WindowReplicas(model, 2);
        ParameterBuffer once = ParameterBuffer.allocate(model.layout()), twice = ParameterBuffer.allocate(model.layout());
        team.forwardLoss(x, y, B, T);
        team.backward(once);
        team.forwardLoss(x, y, B, T);
        team.backward(twice);
        assertArrayEquals(toArray(once), toArray(twice), "same replicas, same batch: same bits");
        team.backward(twice); // a second backward after one forward adds the same gradient again
        float[] a = toArray(once), b = toArray(twice);
        double scale = 0;
        for (float v : a) scale = Math.max(scale, Math.abs(v));
        boolean nonzero = false;
        for (int i = 0; i < a.length; i++) {
            assertEquals(a[i] + a[i], b[i], 1e-6 * scale, "element " + i);
            nonzero |= a[i] != 0;
        }
        assertTrue(nonzero, "the gradient is not all zero");
    }

    /** A batch with fewer rows than replicas (the last evaluation batch) is shared by as many replicas as it has rows. */
    @Test
    void aBatchSmallerThanTheTeamUsesFewerReplicas() throws Exception {
        ByteLm model = byteLm();
        int[] x = new int[2 * 16], y = new int[2 * 16];
        for (int i = 0; i < x.length; i++) {
            x[i] = 4 + i;
            y[i] = 5 + i;
        }
        model.forward(x, 2, 16);
        double alone = model.loss(y, null, false);
        WindowReplicas team = new WindowReplicas(byteLm(), 3);
        assertEquals(alone, team.loss(x, y, 2, 16), 1e-5 * alone);
        assertThrows(IllegalArgumentException.class, () -> new WindowReplicas(model, 0));
        assertThrows(IllegalStateException.class, () -> team.backward(ParameterBuffer.allocate(model.layout())));
    }

    private static float[] toArray(ParameterBuffer b) {
        float[] a = new float[(int) b.floats()];
        for (int i = 0; i < a.length; i++) a[i] = b.get(i);
        return a;
    }
}

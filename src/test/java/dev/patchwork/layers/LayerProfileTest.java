package dev.patchwork.layers;

import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The per-layer-kind profile: nothing is recorded when off; when on, time lands in the right kind and direction. */
class LayerProfileTest {
    @AfterEach
    void off() {
        LayerProfile.enable(false);
        LayerProfile.reset();
    }

    @Test
    void recordsNothingWhenOff() {
        assertFalse(LayerProfile.enabled());
        long t = LayerProfile.start();
        assertEquals(0L, t, "no clock read when off");
        LayerProfile.stop(LayerProfile.Kind.ATTENTION, false, System.nanoTime() - 1_000_000);
        Map<String, Object> r = LayerProfile.report(1, 1_000_000);
        assertEquals(1, r.size(), "only 'other' when nothing was recorded: " + r);
        assertTrue(r.containsKey("other"));
    }

    @Test
    @SuppressWarnings("unchecked")
    void splitsKindsAndDirectionsAndReportsTheRestAsOther() {
        LayerProfile.enable(true);
        LayerProfile.stop(LayerProfile.Kind.ATTENTION, false, System.nanoTime() - 2_000_000);
        LayerProfile.stop(LayerProfile.Kind.ATTENTION, true, System.nanoTime() - 4_000_000);
        LayerProfile.stop(LayerProfile.Kind.OPTIMIZER, true, System.nanoTime() - 1_000_000);
        Map<String, Object> r = LayerProfile.report(2, 20_000_000L);
        Map<String, Object> attention = (Map<String, Object>) r.get("attention");
        double fwd = (Double) attention.get("forward_ms"), bwd = (Double) attention.get("backward_ms");
        assertTrue(fwd >= 1.0 && fwd < 1.5, "2 ms over 2 steps: " + attention);
        assertTrue(bwd >= 2.0 && bwd < 2.5, "4 ms over 2 steps: " + attention);
        assertTrue((Double) attention.get("fraction") >= 0.3, attention.toString());
        assertTrue(((Map<String, Object>) r.get("optimizer")).containsKey("ms"), r.toString());
        assertFalse(r.containsKey("feed_forward"), "kinds with no time are left out: " + r);
        double other = (Double) ((Map<String, Object>) r.get("other")).get("fraction");
        assertTrue(other > 0.5 && other <= 0.65, "20 ms minus at least 7 ms: " + r);
    }
}

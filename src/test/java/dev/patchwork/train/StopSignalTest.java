package dev.patchwork.train;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class StopSignalTest {
    @Test
    void ctrlCBecomesAStopRequestInsteadOfKillingTheJvm() throws Exception {
        try (StopSignal stop = StopSignal.install()) {
            assertFalse(stop.requested());
            sun.misc.Signal.raise(new sun.misc.Signal("INT")); // what Ctrl-C sends
            long deadline = System.nanoTime() + 5_000_000_000L;
            while (!stop.requested() && System.nanoTime() < deadline) Thread.sleep(10);
            assertTrue(stop.requested(), "SIGINT should request a stop");
        }
    }
}

package dev.patchwork.train;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class StopSignalTest {
    @Test
    void ctrlCBecomesAStopRequestInsteadOfKillingTheJvm() throws Exception {
        // A JVM started in the background by a non-interactive shell (`cmd &`, some CI runners) inherits SIGINT as
        // ignored; the JVM then keeps ignoring it and no Ctrl-C can reach the process. There the same handler is
        // checked with SIGTERM, the other signal StopSignal handles.
        String name = sigintIgnored() ? "TERM" : "INT";
        try (StopSignal stop = StopSignal.install()) {
            assertFalse(stop.requested());
            sun.misc.Signal.raise(new sun.misc.Signal(name)); // what Ctrl-C (or kill) sends
            long deadline = System.nanoTime() + 5_000_000_000L;
            while (!stop.requested() && System.nanoTime() < deadline) Thread.sleep(10);
            assertTrue(stop.requested(), "SIG" + name + " should request a stop");
        }
    }

    /** Whether this process was started with SIGINT ignored (the JVM reports the inherited disposition). */
    private static boolean sigintIgnored() {
        sun.misc.Signal sig = new sun.misc.Signal("INT");
        sun.misc.SignalHandler previous = sun.misc.Signal.handle(sig, s -> {});
        sun.misc.Signal.handle(sig, previous);
        return previous == sun.misc.SignalHandler.SIG_IGN;
    }
}

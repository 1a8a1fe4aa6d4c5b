package dev.patchwork.train;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Turns Ctrl-C (SIGINT) and SIGTERM into a polite request: the training loop finishes its step, saves a checkpoint and
 * returns. A second signal exits at once. Uses {@code sun.misc.Signal} (module jdk.unsupported) because a shutdown
 * hook cannot let the loop finish on its own terms.
 */
public final class StopSignal implements AutoCloseable {
    private final AtomicBoolean requested = new AtomicBoolean();
    private final java.util.List<Runnable> restore = new java.util.ArrayList<>();

    private StopSignal() {}

    /** Installs the handlers for the lifetime of the returned object. */
    public static StopSignal install() {
        StopSignal s = new StopSignal();
        for (String name : new String[]{"INT", "TERM"}) {
            try {
                sun.misc.Signal sig = new sun.misc.Signal(name);
                sun.misc.SignalHandler previous = sun.misc.Signal.handle(sig, x -> {
                    if (!s.requested.compareAndSet(false, true)) {
                        System.err.println("\npatchwork: second interrupt, exiting without saving");
                        Runtime.getRuntime().halt(130);
                    }
                    System.err.println("\npatchwork: interrupt received; saving a checkpoint after this step (Ctrl-C again to quit at once)");
                });
                s.restore.add(() -> sun.misc.Signal.handle(sig, previous));
            } catch (IllegalArgumentException | UnsupportedOperationException e) {
                // the signal is not available on this platform: the default behaviour stays
            }
        }
        return s;
    }

    /** A signal-free instance (tests, library use) whose stop can be requested programmatically. */
    public static StopSignal manual() {
        return new StopSignal();
    }

    public boolean requested() {
        return requested.get();
    }

    public void request() {
        requested.set(true);
    }

    @Override
    public void close() {
        restore.forEach(Runnable::run);
    }
}

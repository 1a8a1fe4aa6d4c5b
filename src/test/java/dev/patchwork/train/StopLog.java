package dev.patchwork.train;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;

/** A training log for tests that asks a run to stop (as Ctrl-C would) once it has printed a given line. */
public final class StopLog {
    private StopLog() {}

    /** Stops once the trainer has printed its progress line for {@code step}. */
    public static PrintStream afterStep(StopSignal stop, int step) {
        return atLine(stop, "step " + step + "/");
    }

    /** Stops once a printed line starts with {@code prefix}. */
    public static PrintStream atLine(StopSignal stop, String prefix) {
        return new PrintStream(new OutputStream() {
            final ByteArrayOutputStream line = new ByteArrayOutputStream();

            @Override
            public void write(int b) {
                if (b != '\n') {
                    line.write(b);
                    return;
                }
                if (line.toString().startsWith(prefix)) stop.request();
                line.reset();
            }
        }, true);
    }
}

package dev.patchwork.cli;

import dev.patchwork.data.CorpusCache;

import java.io.PrintStream;

/** Progress reporters for long preparations, printed on stderr at most twice a second. */
final class Progress {
    private Progress() {}

    /** Silent for preparations under a second; then a line every half second and one when done. */
    static CorpusCache.Progress corpus(PrintStream err) {
        long start = System.nanoTime();
        long[] last = {start};
        boolean[] shown = {false};
        return (documents, bytes, finished) -> {
            long now = System.nanoTime();
            boolean due = now - start > 1_000_000_000L && now - last[0] > 500_000_000L;
            if (due || (finished && shown[0])) {
                last[0] = now;
                shown[0] = true;
                err.printf("preparing corpus: %,d documents, %,.1f MB%s%n", documents, bytes / 1e6, finished ? " (done)" : "");
            }
        };
    }
}

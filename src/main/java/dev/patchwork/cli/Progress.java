package dev.patchwork.cli;

import dev.patchwork.data.CorpusCache;

import java.io.PrintStream;

/** Progress reporters for long preparations, printed on stderr at most twice a second. */
final class Progress {
    private Progress() {}

    static CorpusCache.Progress corpus(PrintStream err) {
        long[] last = {0};
        return (documents, bytes, finished) -> {
            long now = System.nanoTime();
            if (finished || now - last[0] > 500_000_000L) {
                last[0] = now;
                err.printf("preparing corpus: %,d documents, %,.1f MB%s%n", documents, bytes / 1e6, finished ? " (done)" : "");
            }
        };
    }
}

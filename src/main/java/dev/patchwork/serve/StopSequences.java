package dev.patchwork.serve;

import java.util.List;

/**
 * Cuts generated text at the first stop sequence without ever releasing text past it: text that could still be the
 * start of a stop sequence is held back until the next characters decide.
 */
final class StopSequences {
    private final List<String> stops;
    private final StringBuilder pending = new StringBuilder();
    private boolean stopped;

    StopSequences(List<String> stops) {
        this.stops = stops;
    }

    boolean stopped() {
        return stopped;
    }

    /** Adds decoded text; returns what can be released now (up to a stop sequence, which ends the generation). */
    String push(String text) {
        if (stopped) return "";
        pending.append(text);
        int cut = -1;
        for (String s : stops) {
            int i = pending.indexOf(s);
            if (i >= 0 && (cut < 0 || i < cut)) cut = i;
        }
        if (cut >= 0) {
            stopped = true;
            String out = pending.substring(0, cut);
            pending.setLength(0);
            return out;
        }
        int hold = 0;
        for (String s : stops) hold = Math.max(hold, heldBack(s));
        String out = pending.substring(0, pending.length() - hold);
        pending.delete(0, pending.length() - hold);
        return out;
    }

    /** The rest at the end of the generation. */
    String finish() {
        if (stopped) return "";
        String out = pending.toString();
        pending.setLength(0);
        return out;
    }

    /** Length of the longest end of the pending text that is a proper prefix of {@code stop}. */
    private int heldBack(String stop) {
        for (int k = Math.min(stop.length() - 1, pending.length()); k > 0; k--)
            if (pending.substring(pending.length() - k).equals(stop.substring(0, k))) return k;
        return 0;
    }
}

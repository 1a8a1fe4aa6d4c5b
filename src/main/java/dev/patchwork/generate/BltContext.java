package dev.patchwork.generate;

import dev.patchwork.model.Blt;

import java.util.Arrays;

/**
 * The ids a BLT generator's model sees: the prompt, then the generated ids; when it outgrows the model, its first half
 * goes (both generators do exactly the same, see {@link BltGeneration}).
 */
final class BltContext {
    private int[] ids;
    private int length;

    BltContext(int[] prompt) {
        ids = Arrays.copyOf(prompt, Math.max(16, 2 * prompt.length));
        length = prompt.length;
    }

    int length() {
        return length;
    }

    /** The ids (a view: the first {@link #length()} entries count). */
    int[] ids() {
        return ids;
    }

    void append(int id) {
        if (length == ids.length) ids = Arrays.copyOf(ids, 2 * length);
        ids[length++] = id;
    }

    /** Whether the model can take this many ids. */
    static boolean fitsBytes(Blt model, int ids) {
        return ids <= model.config().maxEncoderSeqLength();
    }

    /** Whether the global model can take this many patches. */
    static boolean fitsPatches(Blt model, int patches) {
        return patches <= model.config().maxSeqlen();
    }

    /** Keeps the last half of the ids (positions restart at 0 with the first kept id). */
    void dropFirstHalf() {
        if (length < 2) throw new IllegalStateException("the model cannot take even one id and its patch");
        int keep = length / 2;
        System.arraycopy(ids, length - keep, ids, 0, keep);
        length = keep;
    }
}

package dev.patchwork.patch;

/** Input checks and the start → length conversion shared by every {@link Patcher}. */
final class PatchInput {
    private PatchInput() {}

    /** The sequence length N, after checking that the patcher has what it reads. */
    static int length(Patcher p, int[] ids, float[] entropies) {
        if (p.readsIds() && ids == null) throw new IllegalArgumentException(p.describe() + " patching reads the ids: give them");
        if (p.usesEntropies()) {
            if (entropies == null) throw new IllegalArgumentException(p.describe() + " patching needs one entropy per id: give them");
            if (ids != null && ids.length != entropies.length)
                throw new IllegalArgumentException("got " + entropies.length + " entropies for " + ids.length + " ids: give one entropy per id (H[t] for every position t, BOS included)");
            for (int t = 0; t < entropies.length; t++)
                if (!Float.isFinite(entropies[t])) throw new IllegalArgumentException("entropy at position " + t + " is " + entropies[t] + ": entropies must be finite numbers");
        }
        if (ids != null) return ids.length;
        if (entropies != null) return entropies.length;
        throw new IllegalArgumentException("nothing to patch: give the ids (or, for entropy patching, the entropies)");
    }

    /** The part of a patcher's description that names its length limit, if any. */
    static String limitSuffix(int maxPatchLength) {
        return maxPatchLength == Patcher.NO_MAX_LENGTH ? "" : ", max_patch_length=" + maxPatchLength;
    }

    /** Adds the reference's two forced starts, 0 ([BOS] alone) and 1, where they fit ({@code first_ids = [0, 1]}). */
    static IntList forcedStarts(int total, int capacity) {
        IntList s = new IntList(capacity);
        if (total > 0) s.add(0);
        if (total > 1) s.add(1);
        return s;
    }

    /**
     * Lengths from sorted, distinct starts in {@code [0, total)} ({@code patch_lengths_from_start_ids}: each patch runs to
     * the next start, the last to the end), then every length above {@code maxLength} cut into pieces of
     * {@code maxLength} followed by the non-zero remainder ({@code split_large_numbers}: 2m → [m, m]; 2m+1 → [m, m, 1]).
     */
    static Patches lengths(int[] starts, int total, int maxLength) {
        IntList out = new IntList(starts.length);
        for (int i = 0; i < starts.length; i++) {
            int len = (i + 1 < starts.length ? starts[i + 1] : total) - starts[i];
            if (maxLength != Patcher.NO_MAX_LENGTH) {
                while (len > maxLength) {
                    out.add(maxLength);
                    len -= maxLength;
                }
            }
            out.add(len);
        }
        return new Patches(out.toArray());
    }
}

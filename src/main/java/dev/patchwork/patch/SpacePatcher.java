package dev.patchwork.patch;

/**
 * Space patching ({@code find_space_patch_start_ids}, SpaceByte-like): a patch begins right after a "space-like" byte.
 * Byte b = id − 4 is space-like when it is not an ASCII letter or digit and not a UTF-8 continuation byte:
 * {@code b < '0'}, {@code '9' < b < 'A'}, {@code 'Z' < b < 'a'}, {@code 'z' < b < 0x80}, or {@code b ≥ 0xC0} (a
 * lead byte). In a run of space-like bytes only the first counts (each position is tested against the original
 * previous one, not the updated one), and special ids (< 4) always count. Starts = {0, 1} ∪ {k+1 : k ≥ 1 and position
 * k counts}. Since BOS is space-like, a space right after BOS does not count.
 */
public record SpacePatcher(int maxPatchLength) implements Patcher {
    public SpacePatcher {
        Thresholds.checkMaxLength(maxPatchLength);
    }

    /** Whether the id is space-like (special ids are, since id − 4 < '0'). */
    static boolean spaceLike(int id) {
        int b = id - 4;
        return b < '0' || ('9' < b && b < 'A') || ('Z' < b && b < 'a') || ('z' < b && b < 0x80) || b >= 0xC0;
    }

    @Override
    public int[] starts(int[] ids, float[] h, int n, int total) {
        IntList s = PatchInput.forcedStarts(total, Math.max(16, total / 4));
        for (int k = 1; k < n && k + 1 < total; k++) {
            boolean counts = ids[k] < 4 || (spaceLike(ids[k]) && !spaceLike(ids[k - 1]));
            if (counts) s.add(k + 1);
        }
        return s.toArray();
    }

    @Override
    public String describe() {
        return "space" + PatchInput.limitSuffix(maxPatchLength);
    }
}

package dev.patchwork.patch;

import dev.patchwork.data.ByteTokens;

/**
 * BPE-delimiter patching ({@code find_bpe_delim_patch_start_ids}, the token baseline): the tokenizer puts the delimiter
 * id 3 in front of every BPE token, and a patch starts right after each delimiter, so the delimiter ends its patch.
 * Starts = {0, 1} ∪ {y+1 : ids[y] = 3, y ≤ N−2}: a delimiter in the last position opens nothing (the reference
 * searches {@code tokens[:, :-1]}), even with the virtual next byte. A delimiter at position 0 would repeat start 1,
 * which the reference turns into an empty patch and an assertion failure; it is kept once here.
 */
public record BpeDelimiterPatcher(int maxPatchLength) implements Patcher {
    public BpeDelimiterPatcher {
        Thresholds.checkMaxLength(maxPatchLength);
    }

    @Override
    public int[] starts(int[] ids, float[] h, int n, int total) {
        IntList s = PatchInput.forcedStarts(total, Math.max(16, total / 4));
        for (int y = 1; y <= n - 2; y++) // y = 0 would give start 1, already there
            if (ids[y] == ByteTokens.BPE_DELIM) s.add(y + 1);
        return s.toArray();
    }

    @Override
    public String describe() {
        return "bpe (delimiter id " + ByteTokens.BPE_DELIM + ")" + PatchInput.limitSuffix(maxPatchLength);
    }
}

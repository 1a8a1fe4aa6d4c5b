package dev.patchwork.patch;

/**
 * Static patching, MEGABYTE's fixed-size patches (the reference's {@code patching_mode} None / "static"): every patch
 * has {@code patch_size} positions and the last one holds the remainder of N (N+1 with the virtual next byte). There
 * is no forced [BOS] patch in this mode. (The nb_boe BOE padding of {@code get_blt_input} belongs to the model input,
 * not to the patcher.)
 */
public record StaticPatcher(int patchSize, int maxPatchLength) implements Patcher {
    public StaticPatcher {
        if (patchSize < 1) throw new IllegalArgumentException("patch_size must be a whole number >= 1 for static patching, got " + patchSize);
        Thresholds.checkMaxLength(maxPatchLength);
    }

    @Override
    public int[] starts(int[] ids, float[] h, int n, int total) {
        int[] s = new int[(total + patchSize - 1) / patchSize];
        for (int i = 0; i < s.length; i++) s[i] = i * patchSize;
        return s;
    }

    @Override
    public String describe() {
        return "static (patch_size=" + patchSize + ")" + PatchInput.limitSuffix(maxPatchLength);
    }
}

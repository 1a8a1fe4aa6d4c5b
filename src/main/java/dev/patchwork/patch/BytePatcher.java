package dev.patchwork.patch;

/** Byte patching (the reference's {@code patching_mode} "byte", used to train entropy models): every length is 1. */
public record BytePatcher(int maxPatchLength) implements Patcher {
    public BytePatcher {
        Thresholds.checkMaxLength(maxPatchLength);
    }

    @Override
    public int[] starts(int[] ids, float[] h, int n, int total) {
        int[] s = new int[total];
        for (int i = 0; i < total; i++) s[i] = i;
        return s;
    }

    @Override
    public String describe() {
        return "byte" + PatchInput.limitSuffix(maxPatchLength);
    }
}

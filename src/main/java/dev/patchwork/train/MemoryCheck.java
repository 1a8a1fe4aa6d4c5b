package dev.patchwork.train;

import dev.patchwork.util.PatchworkException;

/** Refuses, before any work, a training run whose memory estimate exceeds what the machine and the heap offer. */
final class MemoryCheck {
    private MemoryCheck() {}

    /**
     * @param nativeBytes parameters, gradients and optimiser moments (off-heap)
     * @param activations activations kept for the backward pass (Java heap)
     * @param reduce      the settings to name in the message
     */
    static void require(long nativeBytes, long activations, String reduce) {
        long heap = Runtime.getRuntime().maxMemory();
        long physical = physicalMemory();
        if (activations > heap * 0.9 || nativeBytes + activations > physical * 0.9) {
            throw new PatchworkException(String.format(
                    "this config needs about %.1f GiB (%.1f GiB of parameters, gradients (a set per training replica) and AdamW moments + %.1f GiB of activations) "
                            + "but %.1f GiB of heap / %.1f GiB of memory are available: reduce %s",
                    (nativeBytes + activations) / 1073741824.0, nativeBytes / 1073741824.0, activations / 1073741824.0,
                    heap / 1073741824.0, physical / 1073741824.0, reduce));
        }
    }

    private static long physicalMemory() {
        if (java.lang.management.ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os)
            return os.getTotalMemorySize();
        return Long.MAX_VALUE;
    }
}

package dev.patchwork.generate;

/**
 * How the next byte is chosen. {@code temperature == 0} is greedy (argmax); otherwise the logits are divided by the
 * temperature, then restricted to the {@code topK} most likely ids (0 = no limit), then to the smallest set whose
 * probability reaches {@code topP} (1 = no limit), and sampled with a generator seeded by {@code seed}.
 */
public record SamplingOptions(double temperature, int topK, double topP, long seed) {
    public SamplingOptions {
        if (!(temperature >= 0) || Double.isInfinite(temperature))
            throw new IllegalArgumentException("temperature must be a finite number >= 0, got " + temperature);
        if (topK < 0) throw new IllegalArgumentException("top-k must be >= 0, got " + topK);
        if (!(topP > 0 && topP <= 1)) throw new IllegalArgumentException("top-p must be in (0, 1], got " + topP);
    }

    public static SamplingOptions greedy() {
        return new SamplingOptions(0, 0, 1, 0);
    }

    public boolean isGreedy() {
        return temperature == 0;
    }
}

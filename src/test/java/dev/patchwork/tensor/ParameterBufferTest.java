package dev.patchwork.tensor;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class ParameterBufferTest {
    /** Zeroing splits a large buffer across the team, and leaves a confined arena's buffer to its owner thread. */
    @Test
    void parameterBuffersAreZeroedWholeSharedOrConfined() {
        ParameterLayout.Builder b = ParameterLayout.builder();
        b.add("w", 1000, 700); // 2.8 MB: several blocks
        ParameterLayout layout = b.build();
        try (java.lang.foreign.Arena confined = java.lang.foreign.Arena.ofConfined()) {
            for (ParameterBuffer p : new ParameterBuffer[] {ParameterBuffer.allocate(layout),
                    ParameterBuffer.wrap(layout, confined.allocate(layout.totalFloats() * Float.BYTES))}) {
                for (long i = 0; i < p.floats(); i += 997) p.set(i, 1f);
                p.set(p.floats() - 1, 2f);
                p.zero();
                for (long i = 0; i < p.floats(); i++) assertEquals(0f, p.get(i), "element " + i);
            }
        }
    }
}

package dev.patchwork.bench;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The training benchmarks' warm-up: none when asked for none, else the steps asked for and at least 3 seconds. */
class TrainStepTimingTest {
    @Test
    void zeroWarmupStepsTimesOnlyTheRequestedSteps() {
        int[] calls = {0};
        TrainStepTiming.medianSeconds(0, 3, () -> calls[0]++);
        assertEquals(3, calls[0]);
    }

    @Test
    void warmupLastsAtLeastTheMinimumTime() {
        int[] calls = {0};
        long t0 = System.nanoTime();
        TrainStepTiming.medianSeconds(2, 3, () -> calls[0]++);
        assertTrue(System.nanoTime() - t0 >= TrainStepTiming.MIN_WARMUP_NANOS, "warm-up ended early");
        assertTrue(calls[0] > 2 + 3, "only " + calls[0] + " calls");
    }
}

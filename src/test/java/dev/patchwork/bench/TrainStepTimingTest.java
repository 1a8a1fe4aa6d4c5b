package dev.patchwork.bench;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The training benchmarks' timing: with no warm-up asked for, exactly the requested steps; otherwise the requested
 * counts and at least the minimum durations of warm-up and of timed steps.
 */
class TrainStepTimingTest {
    @Test
    void zeroWarmupStepsTimesExactlyTheRequestedSteps() {
        int[] calls = {0};
        TrainStepTiming.Timing t = TrainStepTiming.time(0, 3, () -> calls[0]++);
        assertEquals(3, calls[0]);
        assertEquals(3, t.steps());
    }

    @Test
    void warmupAndTimedStepsLastAtLeastTheirMinimumDurations() {
        int[] calls = {0};
        long t0 = System.nanoTime();
        TrainStepTiming.Timing t = TrainStepTiming.time(2, 3, () -> calls[0]++);
        long elapsed = System.nanoTime() - t0;
        assertTrue(elapsed >= TrainStepTiming.MIN_WARMUP_NANOS + TrainStepTiming.MIN_TIMED_NANOS, "ended early");
        assertTrue(t.steps() > 3 && calls[0] > t.steps() + 2, t.steps() + " timed of " + calls[0] + " calls");
        assertTrue(t.medianSeconds() >= 0 && t.medianSeconds() < 0.01, "median " + t.medianSeconds());
    }
}

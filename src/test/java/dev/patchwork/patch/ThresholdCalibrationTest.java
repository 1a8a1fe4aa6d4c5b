package dev.patchwork.patch;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/** Calibration on synthetic entropies: it reaches the target, reports its step honestly, and says when it cannot. */
class ThresholdCalibrationTest {
    /** Documents whose entropies look like a byte LM's: mostly low, with a heavy tail of spikes. */
    static List<float[]> documents(long seed, int count, int maxLength) {
        SplittableRandom rnd = new SplittableRandom(seed);
        List<float[]> docs = new ArrayList<>();
        for (int d = 0; d < count; d++) {
            float[] h = new float[rnd.nextInt(2, maxLength)];
            for (int t = 0; t < h.length; t++) h[t] = (float) (-Math.log(1 - rnd.nextDouble()) * 1.2);
            docs.add(h);
        }
        return docs;
    }

    static double meanOver(List<float[]> docs, Patcher p) {
        long positions = 0, patches = 0;
        for (float[] h : docs) {
            positions += h.length;
            patches += p.patchEntropies(h, false).count();
        }
        return (double) positions / patches;
    }

    @Test
    void reachesTheTargetWithinOnePercent() {
        List<float[]> docs = documents(7, 60, 1500);
        ThresholdCalibration cal = new ThresholdCalibration(docs, PatcherConfig.entropy(0));
        for (double target : new double[]{2.0, 4.5, 8.0}) {
            ThresholdCalibration.Result r = cal.calibrate(target);
            assertTrue(r.withinTolerance(), target + ": " + r);
            assertEquals(target, r.meanPatchSize(), 0.01 * target);
            assertEquals("", r.note());
            // independently: patching every document with the reported θ gives the reported mean
            assertEquals(r.meanPatchSize(), meanOver(docs, PatcherConfig.entropy(r.threshold()).build()), 1e-12);
            // the reported step is exact: its ends give the same patches, just outside them the count changes
            assertEquals(r.meanPatchSize(), cal.meanPatchSize(r.stepLow()), 1e-12);
            assertEquals(r.meanPatchSize(), cal.meanPatchSize(r.stepHigh()), 1e-12);
            assertTrue(cal.meanPatchSize(Math.nextDown(r.stepLow())) < r.meanPatchSize());
            assertTrue(cal.meanPatchSize(Math.nextUp(r.stepHigh())) > r.meanPatchSize());
            assertTrue(r.stepLow() <= r.threshold() && r.threshold() <= r.stepHigh());
        }
    }

    @Test
    void calibratesTheRelativeRuleAndKeepsOtherSettings() {
        List<float[]> docs = documents(11, 40, 1200);
        PatcherConfig template = new PatcherConfig(PatcherConfig.Mode.ENTROPY, 0.0, null, true, 12, 4.5);
        ThresholdCalibration.Result r = new ThresholdCalibration(docs, template).calibrate(4.0);
        assertTrue(r.withinTolerance(), r.toString());
        assertEquals(r.meanPatchSize(), meanOver(docs, template.withThreshold((double) r.threshold()).build()), 1e-12);
        assertTrue(meanOver(docs, template.withThreshold((double) r.threshold()).build()) != meanOver(docs, PatcherConfig.entropy(r.threshold()).build()));
    }

    @Test
    void saysSoWhenADiscreteJumpMissesTheTarget() {
        // every entropy is 2: θ < 2 gives one patch per position (mean 1), θ ≥ 2 gives [BOS] + the rest (mean 50)
        float[] h = new float[100];
        java.util.Arrays.fill(h, 2f);
        ThresholdCalibration.Result r = new ThresholdCalibration(List.of(h), PatcherConfig.entropy(0)).calibrate(4.5);
        assertFalse(r.withinTolerance());
        assertEquals(1.0, r.meanPatchSize(), 1e-12);
        assertEquals(0f, r.stepLow());
        assertEquals(Math.nextDown(2f), r.stepHigh());
        assertEquals(1f, r.threshold(), 1e-6);
        assertTrue(r.note().contains("jumps from 1.0000 to 50.0000"), r.note());
    }

    @Test
    void saysSoWhenTheTargetIsOutOfReach() {
        List<float[]> docs = documents(3, 5, 50);
        ThresholdCalibration cal = new ThresholdCalibration(docs, PatcherConfig.entropy(0));
        ThresholdCalibration.Result high = cal.calibrate(1000);
        assertFalse(high.withinTolerance());
        assertTrue(high.note().contains("largest reachable mean patch size"), high.note());
        assertEquals(Float.POSITIVE_INFINITY, high.stepHigh());
        ThresholdCalibration.Result low = cal.calibrate(0.5);
        assertFalse(low.withinTolerance());
        assertEquals(0f, low.stepLow());
        assertTrue(low.note().contains("even θ=0"), low.note());
    }

    @Test
    void refusesRulesWithoutAThresholdAndEmptyInput() {
        assertThrows(IllegalArgumentException.class, () -> new ThresholdCalibration(List.of(new float[5]),
                new PatcherConfig(PatcherConfig.Mode.ENTROPY, null, null, false, null, 4.5)));
        assertThrows(IllegalArgumentException.class, () -> new ThresholdCalibration(List.of(new float[5]),
                new PatcherConfig(PatcherConfig.Mode.SPACE, 1.0, null, false, null, 4.5)));
        assertThrows(IllegalArgumentException.class, () -> new ThresholdCalibration(List.of(new float[0]), PatcherConfig.entropy(1)));
        assertThrows(IllegalArgumentException.class, () -> new ThresholdCalibration(List.of(new float[]{0, Float.NaN}), PatcherConfig.entropy(1)));
        assertThrows(IllegalArgumentException.class, () -> new ThresholdCalibration(List.of(new float[3]), PatcherConfig.entropy(1)).calibrate(-1));
    }
}

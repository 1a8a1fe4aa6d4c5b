package dev.patchwork.data;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static dev.patchwork.data.TestCorpora.expectedTokens;
import static dev.patchwork.data.TestCorpora.write;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BatcherTest {
    @TempDir
    Path dir;

    private ByteCorpus corpus;
    private int[] stream;

    @BeforeEach
    void corpus() throws IOException {
        SplittableRandom r = new SplittableRandom(11);
        List<byte[]> docs = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            byte[] d = new byte[1 + r.nextInt(60)];
            r.nextBytes(d);
            docs.add(d);
            write(dir.resolve("docs").resolve(String.format("%03d", i)), d);
        }
        stream = expectedTokens(docs);
        corpus = ByteCorpus.open(dir.resolve("docs"), dir.resolve("cache"));
    }

    @AfterEach
    void close() {
        corpus.close();
    }

    @Test
    void splitHoldsOutTheLastFractionLikeNanoGpt() {
        CorpusSplit s = CorpusSplit.of(1000, 0.1);
        assertEquals(900, s.trainTokens());
        assertEquals(100, s.evalTokens());
        assertEquals(900, CorpusSplit.of(1000, CorpusSplit.DEFAULT_EVAL_FRACTION).trainEnd());
        assertEquals(9, CorpusSplit.of(10, 0.1).trainEnd());
        assertEquals(1000, CorpusSplit.of(1000, 0).trainTokens());
        assertEquals(1003 - 100, CorpusSplit.of(1003, 0.1).trainEnd()); // held-out size rounds down
        CorpusSplit fromCorpus = corpus.split(0.25);
        assertEquals(corpus.tokens(), fromCorpus.trainTokens() + fromCorpus.evalTokens());
        assertEquals((long) Math.floor(corpus.tokens() * 0.25), fromCorpus.evalTokens());
        for (double bad : new double[] {-0.1, 1, 1.5, Double.NaN}) {
            DataException e = assertThrows(DataException.class, () -> CorpusSplit.of(100, bad));
            assertTrue(e.getMessage().contains("eval fraction must be in [0, 1)"), e.getMessage());
        }
    }

    @Test
    void batchesAreWindowsOfTheTrainingSplitWithShiftedTargets() {
        CorpusSplit split = corpus.split(0.1);
        Batcher batcher = new Batcher(corpus, split, 42);
        int b = 6, t = 37;
        int[] x = new int[b * t], y = new int[b * t];
        long[] starts = new long[b];
        long maxStart = 0;
        for (long step = 0; step < 300; step++) {
            batcher.batch(step, b, t, x, y);
            batcher.windowStarts(step, b, t, starts);
            for (int i = 0; i < b; i++) {
                long o = starts[i];
                assertTrue(o >= 0 && o + t + 1 <= split.trainEnd(), "window at " + o + " leaves the training split");
                maxStart = Math.max(maxStart, o);
                assertArrayEquals(Arrays.copyOfRange(stream, (int) o, (int) o + t), Arrays.copyOfRange(x, i * t, i * t + t));
                assertArrayEquals(Arrays.copyOfRange(stream, (int) o + 1, (int) o + t + 1),
                        Arrays.copyOfRange(y, i * t, i * t + t));
            }
        }
        // 1800 uniform draws over fewer than 2000 starts reach the top few percent of the range.
        assertTrue(maxStart > (split.trainEnd() - t - 1) * 0.95, "draws do not cover the split: max " + maxStart);
    }

    @Test
    void batchesAreAFunctionOfSeedAndStepSoResumeNeedsOnlyTheStep() {
        CorpusSplit split = corpus.split(0.1);
        int b = 4, t = 16;
        Batcher run = new Batcher(corpus, split, 7);
        List<int[]> uninterrupted = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            int[] x = new int[b * t], y = new int[b * t];
            run.nextBatch(b, t, x, y);
            uninterrupted.add(x);
        }
        assertEquals(10, run.step());
        Batcher resumed = new Batcher(corpus, split, 7);
        resumed.seek(6);
        for (int i = 6; i < 10; i++) {
            int[] x = new int[b * t], y = new int[b * t];
            resumed.nextBatch(b, t, x, y);
            assertArrayEquals(uninterrupted.get(i), x, "step " + i);
        }
        int[] x = new int[b * t], y = new int[b * t];
        new Batcher(corpus, split, 8).batch(3, b, t, x, y);
        assertFalse(Arrays.equals(uninterrupted.get(3), x), "another seed gives other windows");
        assertFalse(Arrays.equals(uninterrupted.get(3), uninterrupted.get(4)), "consecutive steps differ");
        long[] s3 = new long[b], s4 = new long[b];
        run.windowStarts(3, b, t, s3);
        run.windowStarts(4, b, t, s4);
        assertFalse(s3[1] == s4[0] && s3[2] == s4[1], "step 4 must not replay step 3 shifted by one draw");
    }

    @Test
    void tooSmallCorporaAndBadShapesAreClearErrors() {
        CorpusSplit split = corpus.split(0.1);
        Batcher batcher = new Batcher(corpus, split, 1);
        int t = (int) split.trainTokens(); // needs trainTokens + 1
        DataException e = assertThrows(DataException.class,
                () -> batcher.batch(0, 1, t, new int[t], new int[t]));
        assertTrue(e.getMessage().contains("is too small for windows of " + t + " tokens"), e.getMessage());
        int ok = t - 1; // exactly one possible window
        int[] x = new int[ok], y = new int[ok];
        batcher.batch(0, 1, ok, x, y);
        assertArrayEquals(Arrays.copyOfRange(stream, 0, ok), x);
        IllegalArgumentException shape = assertThrows(IllegalArgumentException.class,
                () -> batcher.batch(0, 2, 8, new int[15], new int[16]));
        assertTrue(shape.getMessage().contains("= 16 ids"), shape.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new Batcher(corpus, CorpusSplit.of(5, 0.1), 1));
    }

    @Test
    void evalWindowsTileTheHeldOutSplitInOrder() {
        CorpusSplit split = corpus.split(0.2);
        int t = 10;
        EvalWindows eval = new EvalWindows(corpus, split, t, 0);
        assertEquals((split.evalTokens() - 1) / t, eval.count());
        int b = 3;
        int[] x = new int[b * t], y = new int[b * t];
        long k = 0;
        for (int n; (n = eval.nextBatch(b, x, y)) > 0; ) {
            for (int i = 0; i < n; i++, k++) {
                int o = (int) (split.trainEnd() + k * t);
                assertEquals(o, eval.windowStart(k));
                assertArrayEquals(Arrays.copyOfRange(stream, o, o + t), Arrays.copyOfRange(x, i * t, i * t + t));
                assertArrayEquals(Arrays.copyOfRange(stream, o + 1, o + t + 1), Arrays.copyOfRange(y, i * t, i * t + t));
            }
        }
        assertEquals(eval.count(), k);
        assertTrue(split.tokens() - (split.trainEnd() + k * t + 1) < t, "fewer than one window of targets left over");
        eval.reset();
        assertEquals(b, eval.nextBatch(b, x, y));

        EvalWindows limited = new EvalWindows(corpus, split, t, 4);
        assertEquals(4, limited.count());
        assertEquals(3, limited.nextBatch(3, x, y));
        assertEquals(1, limited.nextBatch(3, x, y));
        assertEquals(0, limited.nextBatch(3, x, y));
    }

    @Test
    void aHeldOutSplitShorterThanOneWindowIsAClearError() {
        CorpusSplit split = corpus.split(0.1);
        int t = (int) split.evalTokens();
        DataException e = assertThrows(DataException.class, () -> new EvalWindows(corpus, split, t, 0));
        assertTrue(e.getMessage().contains("too few for one evaluation window of " + t), e.getMessage());
        assertEquals(1, new EvalWindows(corpus, split, t - 1, 0).count());
        assertThrows(DataException.class, () -> new EvalWindows(corpus, corpus.split(0), 4, 0));
    }
}

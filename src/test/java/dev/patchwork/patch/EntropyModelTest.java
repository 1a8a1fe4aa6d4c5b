package dev.patchwork.patch;

import com.fasterxml.jackson.databind.JsonNode;
import dev.patchwork.model.ByteLm;
import dev.patchwork.model.ByteLmConfig;
import dev.patchwork.util.Json;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Batched entropies against the plain definition: every chunk of every document run alone through the model, one
 * forward pass each, with the entropy computed from the softmax probabilities in double.
 */
class EntropyModelTest {
    static final int CHUNK = 16;

    /** A tiny model whose chunks are 16 ids (max_seqlen 16). */
    static ByteLmConfig tiny(Integer window, String bias, long seed) {
        return new ByteLmConfig(16, 2, null, 4, 2, null, 8, 1e-5, 10000.0, null, "disabled", CHUNK, seed, 260,
                false, window, bias, null, 2, null, null, null);
    }

    /** A document of {@code length} ids: BOS, random bytes (+4), an EOS at the end if there is room. */
    static int[] document(SplittableRandom r, int length) {
        int[] ids = new int[length];
        for (int i = 0; i < length; i++) ids[i] = 4 + r.nextInt(256);
        if (length > 0) ids[0] = 1;
        if (length > 1) ids[length - 1] = 2;
        return ids;
    }

    /** −Σ p ln p of each row, p = softmax(logits), straight from the definition. */
    static float[] entropiesByDefinition(float[] logits, int rows, int vocab) {
        float[] h = new float[rows];
        for (int t = 0; t < rows; t++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int v = 0; v < vocab; v++) max = Math.max(max, logits[t * vocab + v]);
            double z = 0;
            for (int v = 0; v < vocab; v++) z += Math.exp(logits[t * vocab + v] - max);
            double ent = 0;
            for (int v = 0; v < vocab; v++) {
                double p = Math.exp(logits[t * vocab + v] - max) / z;
                if (p > 0) ent -= p * Math.log(p);
            }
            h[t] = (float) ent;
        }
        return h;
    }

    /** The reference convention, one chunk per forward pass: chunks of {@code chunk} ids, positions restarting. */
    static float[] oneChunkAtATime(ByteLm model, int[] ids, int chunk) {
        float[] h = new float[ids.length];
        for (int s = 0; s < ids.length; s += chunk) {
            int len = Math.min(chunk, ids.length - s);
            float[] logits = model.forward(Arrays.copyOfRange(ids, s, s + len), 1, len);
            System.arraycopy(entropiesByDefinition(logits, len, model.vocab()), 0, h, s, len);
        }
        return h;
    }

    static void assertClose(float[] expected, float[] actual, double tolerance, String what) {
        assertEquals(expected.length, actual.length, what + ": length");
        for (int i = 0; i < expected.length; i++)
            assertEquals(expected[i], actual[i], tolerance, what + ": position " + i);
    }

    @Test
    void batchedEntropiesEqualOneChunkAtATimeForMixedLengths() {
        SplittableRandom r = new SplittableRandom(11);
        List<int[]> docs = new ArrayList<>();
        for (int len : new int[]{1, 2, CHUNK, CHUNK + 1, 3 * CHUNK + 5, 2 * CHUNK, 15, 14, 13, 7, 0, CHUNK - 1})
            docs.add(document(r, len));
        for (int i = 0; i < 8; i++) docs.add(document(r, 1 + r.nextInt(4 * CHUNK)));
        for (String bias : new String[]{"local_block_causal", "causal"}) {
            for (Integer window : new Integer[]{null, 5}) {
                ByteLm lm = ByteLm.initialise(tiny(window, bias, 5));
                List<float[]> expected = new ArrayList<>();
                for (int[] d : docs) expected.add(oneChunkAtATime(lm, d, CHUNK));
                long ids = docs.stream().mapToLong(d -> d.length).sum();
                // one chunk per pass, small batches, everything in one pass
                for (int rows : new int[]{1, 2 * CHUNK + 3, 64, 100_000}) {
                    EntropyModel model = new EntropyModel(lm, rows);
                    assertEquals(CHUNK, model.chunkLength());
                    List<float[]> h = model.entropies(docs);
                    for (int d = 0; d < docs.size(); d++)
                        assertClose(expected.get(d), h.get(d), 1e-5,
                                bias + " window " + window + " rows " + rows + " document " + d);
                    assertEquals(ids, model.idsScored(), "padding is not counted, nothing is scored twice");
                }
            }
        }
    }

    @Test
    void chunksRestartTheirPositionsAndContext() {
        ByteLm lm = ByteLm.initialise(tiny(null, "causal", 6));
        EntropyModel model = new EntropyModel(lm);
        int[] doc = document(new SplittableRandom(2), 2 * CHUNK + 7);
        float[] h = model.entropies(doc);
        for (int s = 0; s < doc.length; s += CHUNK) {
            int[] part = Arrays.copyOfRange(doc, s, Math.min(doc.length, s + CHUNK));
            float[] alone = model.entropies(part);
            for (int t = 0; t < part.length; t++)
                assertEquals(alone[t], h[s + t], 1e-6, "chunk at " + s + " position " + t);
        }
        // the test can fail: with the 8 ids before it as context, position CHUNK + 3 gets another entropy
        int[] withContext = Arrays.copyOfRange(doc, CHUNK - 8, CHUNK + 8);
        float[] continued = entropiesByDefinition(lm.forward(withContext, 1, 16), 16, 260);
        assertNotEquals(h[CHUNK + 3], continued[11], 1e-4, "context before a chunk must not reach it");
    }

    @Test
    void documentsNeverInteract() {
        // plain causal attention: if two documents shared a row, the second would attend to the first
        ByteLm lm = ByteLm.initialise(tiny(null, "causal", 7));
        SplittableRandom r = new SplittableRandom(4);
        int[] a = document(r, 12);
        List<int[]> others = new ArrayList<>();
        for (int i = 0; i < 9; i++) others.add(document(r, 1 + r.nextInt(3 * CHUNK)));
        float[] alone = new EntropyModel(lm).entropies(a);
        for (int rows : new int[]{16, 64, 1000}) {
            List<int[]> docs = new ArrayList<>(others);
            docs.add(4, a);
            float[] together = new EntropyModel(lm, rows).entropies(docs).get(4);
            assertClose(alone, together, 1e-6, "rows " + rows);
        }
        // the test can fail: the same ids after another document in one sequence give other entropies
        int[] before = document(r, 4);
        int[] joined = new int[before.length + a.length];
        System.arraycopy(before, 0, joined, 0, before.length);
        System.arraycopy(a, 0, joined, before.length, a.length);
        float[] mixed = entropiesByDefinition(lm.forward(joined, 1, joined.length), joined.length, 260);
        double worst = 0;
        for (int t = 0; t < a.length; t++) worst = Math.max(worst, Math.abs(mixed[before.length + t] - alone[t]));
        assertTrue(worst > 1e-3, "mixing documents should change entropies, max change " + worst);
    }

    @Test
    void reproducesTheReferenceGoldenEntropiesThroughBatches() throws Exception {
        Path dir = Path.of(getClass().getResource("/reference-tiny/entropy_model").toURI());
        JsonNode golden = Json.MAPPER.readTree(getClass().getResource("/reference-tiny/entropy_golden.json"));
        List<int[]> docs = new ArrayList<>();
        List<double[]> expected = new ArrayList<>();
        for (JsonNode doc : golden.get("documents")) {
            docs.add(Json.MAPPER.convertValue(doc.get("token_ids"), int[].class));
            expected.add(Json.MAPPER.convertValue(doc.get("entropies"), double[].class));
        }
        EntropyModel model = EntropyModel.load(dir);
        assertEquals(EntropyModel.REFERENCE_CHUNK, model.chunkLength()); // max_seqlen 8192: one chunk per document
        // both documents in one batch (the shorter one padded), then with a copy of each
        List<int[]> twice = new ArrayList<>(docs);
        twice.addAll(docs);
        List<float[]> h = model.entropies(twice);
        for (int d = 0; d < twice.size(); d++) {
            double[] e = expected.get(d % docs.size());
            for (int t = 0; t < e.length; t++) assertEquals(e[t], h.get(d)[t], 1e-4, "document " + d + " position " + t);
        }
    }

    @Test
    void emptyInputsAndBadSettings() {
        EntropyModel model = new EntropyModel(ByteLm.initialise(tiny(null, "causal", 1)));
        assertEquals(0, model.entropies(new int[0]).length);
        assertTrue(model.entropies(List.of()).isEmpty());
        var e = assertThrows(IllegalArgumentException.class, () -> new EntropyModel(model.model(), 0));
        assertTrue(e.getMessage().contains("maxBatchRows"), e.getMessage());
    }

    @Test
    void defaultBatchIsAtLeastOneChunkAndBoundedByMemory() {
        ByteLmConfig small = tiny(null, "causal", 1);
        assertEquals(EntropyModel.USEFUL_BATCH_ROWS, EntropyModel.defaultBatchRows(small));
        ByteLmConfig huge = new ByteLmConfig(4096, 32, null, 32, null, null, 256, null, null, null, null, 8192, 1L,
                null, null, null, null, null, null, null, null, null);
        // 32 layers of dim 4096 need megabytes per row: the budget allows fewer rows than one chunk, so one chunk
        assertEquals(8192, EntropyModel.defaultBatchRows(huge));
        // dim 128, 4 layers: about 80 KB per row, so the memory budget, not the useful size, sets the batch
        ByteLmConfig mid = new ByteLmConfig(128, 4, null, 4, null, null, 256, null, null, null, null, 256, 1L,
                null, null, null, null, null, null, null, null, null);
        int rows = EntropyModel.defaultBatchRows(mid);
        long budget = Math.min(EntropyModel.DEFAULT_BATCH_BYTES, Runtime.getRuntime().maxMemory() / 4);
        assertTrue(rows >= 256 && rows < EntropyModel.USEFUL_BATCH_ROWS, "rows " + rows);
        assertTrue(rows * EntropyModel.activationBytesPerRow(mid) <= budget, "rows " + rows);
        assertTrue((rows + 1) * EntropyModel.activationBytesPerRow(mid) > budget, "rows " + rows);
    }
}

package dev.patchwork.model;

import com.fasterxml.jackson.databind.JsonNode;
import dev.patchwork.io.Checkpoint;
import dev.patchwork.io.SafetensorsFile;
import dev.patchwork.layers.HashNgramEmbedding;
import dev.patchwork.tensor.ParameterLayout;
import dev.patchwork.util.Json;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The reference's own tiny BLT (reference-tiny: hub {@code config.json} + {@code model.safetensors}, computed by the
 * original code in fp32) loads into {@link Blt} by name and reproduces the reference's hash ids, patch ids, logits,
 * per-byte NLL and bits per byte on three cases: English prose (a), code + JSON + several scripts and emoji (b), and a
 * then b packed into one sequence (c: an EOS mid-sequence, so the EOS blocks of the local and global masks matter).
 * The golden data's sensitivity table shows that each convention of spec §5 moves bpb by 0.001–0.23, far above the
 * tolerances here.
 */
class ReferenceBltTest {
    static final double LOGIT_TOL = 1e-4, NLL_TOL = 1e-4, BPB_TOL = 1e-5;
    static Blt model;
    static JsonNode golden;

    static Path resource(String name) throws Exception {
        return Path.of(ReferenceBltTest.class.getResource("/reference-tiny/" + name).toURI());
    }

    @BeforeAll
    static void load() throws Exception {
        Path dir = resource("config.json").getParent();
        BltConfig config = BltConfig.read(dir.resolve("config.json"));
        model = Blt.uninitialised(config);
        Checkpoint.loadModel(dir, model.parameters());
        golden = Json.MAPPER.readTree(resource("blt_golden.json").toFile());
    }

    static JsonNode testCase(String name) {
        JsonNode c = golden.get("cases").get(name);
        assertNotNull(c, "golden case " + name);
        return c;
    }

    static int[] ints(JsonNode n) {
        return Json.MAPPER.convertValue(n, int[].class);
    }

    static long[] longs(JsonNode n) {
        return Json.MAPPER.convertValue(n, long[].class);
    }

    @Test
    void theLayoutHasExactlyTheReferenceTensorNames() throws Exception {
        Set<String> ours = new HashSet<>();
        for (ParameterLayout.View v : model.layout().views()) ours.add(v.name());
        try (SafetensorsFile f = SafetensorsFile.open(resource("model.safetensors"))) {
            assertEquals(f.names(), ours);
            for (ParameterLayout.View v : model.layout().views())
                assertTrue(f.tensor(v.name()).hasShape(v.shape()), v.name());
        }
        assertEquals(90, ours.size());
        assertEquals(500_872, model.layout().parameterCount());
        assertTrue(ours.contains("global_transformer.token_embedding_projection.weight")); // 2·24 ≠ 80
        assertTrue(ours.contains("encoder_hash_tok_embedding.11.weight"));                // 2 functions × 6 sizes
    }

    @ParameterizedTest
    @ValueSource(strings = {"a_english", "b_mixed"})
    void hashIdsAreTheReferenceIds(String name) {
        JsonNode c = testCase(name);
        int[] x = ints(c.get("x"));
        BltConfig cfg = model.config();
        int[] ids = new int[x.length];
        for (int f = 0; f < cfg.encoderHashByteGroupNbFunctions(); f++)
            for (int n : cfg.hashSizes()) {
                String key = "f" + f + "_n" + n;
                HashNgramEmbedding.hashIds(x, 1, x.length, n, f, cfg.encoderHashByteGroupVocab(), ids, 0);
                assertArrayEquals(ints(c.get("hash_ids").get(key)), ids, key);
                long[] raw = longs(c.get("hash_raw_int64_first6").get(key));
                for (int t = 0; t < raw.length; t++)
                    assertEquals(raw[t], HashNgramEmbedding.rawHash(x, 0, t, n, HashNgramEmbedding.PRIMES[f]), key + " raw " + t);
            }
    }

    @ParameterizedTest
    @ValueSource(strings = {"a_english", "b_mixed", "c_packed_a_then_b"})
    void patchIdsAreTheReferenceIds(String name) {
        JsonNode c = testCase(name);
        int[] x = ints(c.get("x"));
        BltPatches p = BltPatches.of(x, x.length, ints(c.get("patch_lengths")), 2);
        assertEquals(c.get("num_patches").asInt(), p.patches());
        assertArrayEquals(ints(c.get("patch_ids")), p.patchIds());
        assertArrayEquals(ints(c.get("decoder_patch_ids")), p.decoderPatchIds());
        int[] tokens = p.globalTokens();
        int[] eosPatches = java.util.stream.IntStream.range(0, tokens.length).filter(i -> tokens[i] == 2).toArray();
        assertArrayEquals(ints(c.get("eos_patch_ids")), eosPatches);
    }

    @ParameterizedTest
    @ValueSource(strings = {"a_english", "b_mixed", "c_packed_a_then_b"})
    void logitsNllAndBitsPerByteMatchTheReference(String name) {
        JsonNode c = testCase(name);
        int[] x = ints(c.get("x")), y = ints(c.get("y"));
        int N = x.length, V = 260;
        float[] logits = model.forward(x, N, ints(c.get("patch_lengths")));
        double worstLogit = 0;
        for (int t = 0; t < 4; t++) worstLogit = Math.max(worstLogit, compareRow(logits, t, c.get("logits_first4").get(t), name));
        int[] last = ints(c.get("logits_last4_positions"));
        for (int i = 0; i < last.length; i++)
            worstLogit = Math.max(worstLogit, compareRow(logits, last[i], c.get("logits_last4").get(i), name));

        float[] nll = new float[N];
        double sum = model.loss(y, nll, false);
        double[] expected = Json.MAPPER.convertValue(c.get("nll"), double[].class);
        double worstNll = 0;
        for (int t = 0; t < N; t++) {
            worstNll = Math.max(worstNll, Math.abs(nll[t] - expected[t]));
            assertEquals(expected[t], nll[t], NLL_TOL, name + ": NLL at position " + t);
        }
        double bpb = sum / Math.log(2) / y.length;
        assertEquals(c.get("bpb").asDouble(), bpb, BPB_TOL, name + ": bits per byte");
        System.out.printf("reference BLT %s: %d bytes, %d patches, max |Δlogit| %.1e, max |ΔNLL| %.1e, bpb %.9f (ref %.9f, Δ %.1e)%n",
                name, N, model.patches().patches(), worstLogit, worstNll, bpb, c.get("bpb").asDouble(),
                Math.abs(bpb - c.get("bpb").asDouble()));
        assertEquals(V, model.vocab());
    }

    static double compareRow(float[] logits, int position, JsonNode expected, String what) {
        double worst = 0;
        for (int v = 0; v < 260; v++) {
            double e = expected.get(v).asDouble();
            worst = Math.max(worst, Math.abs(logits[position * 260 + v] - e));
            assertEquals(e, logits[position * 260 + v], LOGIT_TOL, what + ": logit " + v + " at position " + position);
        }
        return worst;
    }

    /** The first rows of each stage of case a, to localise a failure (spec §5 steps 2–7). */
    @Test
    void intermediatesOfCaseAMatchTheReference() {
        JsonNode c = testCase("a_english");
        JsonNode in = c.get("intermediates");
        int[] x = ints(c.get("x"));
        model.forward(x, x.length, ints(c.get("patch_lengths")));
        compareRows("encoder input embeddings", model.encoder().embeddings(), 24, in.get("encoder_input_embeddings_first3"));
        compareRows("pooled patches", model.encoder().pooled(), 24, in.get("encoder_pooled_patches_first3"));
        compareRows("global input", model.encoder().patches(), 48, in.get("global_input_patch_embeddings_first3"));
        compareRows("global projection", model.global().blockInput(), 80, in.get("global_token_embedding_projection_out_first3"));
        compareRows("decoder patch projection", model.decoder().patchVectors(), 48, in.get("decoder_patch_embedding_projection_out_first3"));
    }

    /**
     * Relative to the tensor's largest magnitude: these activations reach ±150 (random weights with a large scale),
     * so float rounding alone moves small entries of the same rows by ~1e-4.
     */
    static void compareRows(String what, float[] actual, int width, JsonNode rows) {
        double scale = 1;
        for (JsonNode row : rows) for (JsonNode e : row) scale = Math.max(scale, Math.abs(e.asDouble()));
        for (int r = 0; r < rows.size(); r++)
            for (int i = 0; i < width; i++)
                assertEquals(rows.get(r).get(i).asDouble(), actual[r * width + i], 1e-5 * scale, what + " row " + r + " entry " + i);
    }

    /**
     * A prefix of case a cut at a patch boundary, with a last patch that holds only the virtual next byte (as in
     * generation): that patch's encoder queries see no byte. No NaN may appear, and since the model is causal, every
     * position must keep the NLL of the full sequence.
     */
    @Test
    void anEmptyLastPatchGivesNoNanAndTheFullSequencesNll() {
        JsonNode c = testCase("a_english");
        int[] x = ints(c.get("x")), y = ints(c.get("y")), lengths = ints(c.get("patch_lengths"));
        double[] expected = Json.MAPPER.convertValue(c.get("nll"), double[].class);
        int m = lengths.length / 2, k = 0;
        for (int i = 0; i < m; i++) k += lengths[i];
        int[] cut = Arrays.copyOf(Arrays.copyOf(lengths, m), m + 1);
        cut[m] = 1; // the virtual byte alone
        float[] logits = model.forward(Arrays.copyOf(x, k), k, cut);
        for (int i = 0; i < k * 260; i++) assertTrue(Float.isFinite(logits[i]), "logit " + i + " is " + logits[i]);
        float[] nll = new float[k];
        model.loss(Arrays.copyOf(y, k), nll, false);
        for (int t = 0; t < k; t++) assertEquals(expected[t], nll[t], NLL_TOL, "NLL at position " + t + " of the prefix");
    }

    /** Two rows with different numbers of patches in one batch give each row's own results. */
    @Test
    void aBatchOfRowsWithDifferentPatchCounts() {
        JsonNode c = testCase("c_packed_a_then_b");
        int[] x = ints(c.get("x")), y = ints(c.get("y")), lengths = ints(c.get("patch_lengths"));
        double[] expected = Json.MAPPER.convertValue(c.get("nll"), double[].class);
        int N = 300;
        // row 0: the first N bytes of c with their own patches; row 1: the same bytes cut into patches of 1..3 bytes
        int[][] rows = new int[2][];
        int m = 0, covered = 0;
        while (covered < N + 1) covered += lengths[m++];
        rows[0] = Arrays.copyOf(lengths, m);
        rows[0][m - 1] -= covered - (N + 1);
        int[] other = new int[N + 1];
        int count = 0;
        other[count++] = 1;
        for (int left = N; left > 0; ) {
            int len = Math.min(left, 1 + count % 3);
            other[count++] = len;
            left -= len;
        }
        rows[1] = Arrays.copyOf(other, count);
        assertNotEquals(rows[0].length, rows[1].length);
        int[] ids = new int[2 * N], targets = new int[2 * N];
        for (int b = 0; b < 2; b++) {
            System.arraycopy(x, 0, ids, b * N, N);
            System.arraycopy(y, 0, targets, b * N, N);
        }
        model.forward(ids, 2, N, rows);
        float[] batched = new float[2 * N];
        model.loss(targets, batched, false);
        for (int t = 0; t < N; t++) assertEquals(expected[t], batched[t], NLL_TOL, "row 0 NLL at " + t);
        float[] alone = new float[N];
        model.forward(x, N, rows[1]);
        model.loss(y, alone, false);
        for (int t = 0; t < N; t++) assertEquals(alone[t], batched[N + t], 1e-5, "row 1 NLL at " + t);
    }
}

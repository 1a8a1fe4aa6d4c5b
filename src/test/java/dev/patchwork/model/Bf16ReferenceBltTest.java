package dev.patchwork.model;

import com.fasterxml.jackson.databind.JsonNode;
import dev.patchwork.generate.BltGeneration;
import dev.patchwork.generate.BltGenerator;
import dev.patchwork.io.Bf16Copies;
import dev.patchwork.io.SafetensorsWriter;
import dev.patchwork.io.WeightStorage;
import dev.patchwork.patch.EntropyModel;
import dev.patchwork.patch.PatcherConfig;
import dev.patchwork.tensor.MappedWeight;
import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.tensor.ParameterLayout;
import dev.patchwork.tensor.WeightFormat;
import dev.patchwork.util.Json;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static dev.patchwork.model.ReferenceBltTest.ints;
import static org.junit.jupiter.api.Assertions.*;

/**
 * reference-tiny converted to BF16 (the BLT and its entropy model, written by {@link Bf16Copies}) runs on
 * its mapped BF16 weights without a float32 copy of any matrix:
 * <ul>
 *   <li>logits within {@value #LOGIT_TOL} of the exact oracle, the float32 path on the same BF16 weights widened
 *       ({@link WeightStorage#F32}): only summation order differs;</li>
 *   <li>bits per byte within {@value #BPB_TOL} of the reference's float32 result (the cost of rounding the weights to
 *       BF16; measured: printed below, about 1e-3 on these cases);</li>
 *   <li>greedy generation identical to the oracle's;</li>
 *   <li>the F32 files themselves, kept mapped ({@link WeightStorage#MAPPED}), give the reference's logits.</li>
 * </ul>
 */
class Bf16ReferenceBltTest {
    static final double LOGIT_TOL = 1e-4, BPB_TOL = 0.01;

    @TempDir
    static Path tmp;
    static Path reference, bf16;
    static Blt mapped, widened;
    static JsonNode golden;

    @BeforeAll
    static void convert() throws Exception {
        reference = ReferenceBltTest.resource("config.json").getParent();
        bf16 = Bf16Copies.referenceTiny(reference, tmp.resolve("reference-tiny-bf16"));
        mapped = ModelDirectory.of(bf16).loadBlt(WeightStorage.AUTO);
        widened = ModelDirectory.of(bf16).loadBlt(WeightStorage.F32);
        golden = ReferenceBltTest.golden != null ? ReferenceBltTest.golden
                : Json.MAPPER.readTree(ReferenceBltTest.resource("blt_golden.json").toFile());
    }

    @Test
    void everyMatrixStaysMappedAsBf16AndOnlyNormWeightsAreCopied() {
        ParameterBuffer p = mapped.parameters();
        long vectorBytes = 0;
        for (ParameterLayout.View v : p.layout().views()) {
            MappedWeight w = p.mapped(v);
            if (v.isMatrix()) {
                assertNotNull(w, v.name() + " should be read in place");
                assertEquals(WeightFormat.BF16, w.format(), v.name());
            } else {
                assertNull(w, v.name());
                vectorBytes += (v.size() + ParameterLayout.ALIGN - 1) / ParameterLayout.ALIGN * ParameterLayout.ALIGN * Float.BYTES;
            }
        }
        assertEquals(Math.max(64, vectorBytes), p.floatStorageBytes());
        long copy = widened.parameters().floatStorageBytes();
        System.out.printf("reference-tiny BF16: float storage %d bytes mapped-model vs %d bytes float32 copy%n",
                p.floatStorageBytes(), copy);
        assertTrue(p.floatStorageBytes() * 20 < copy, "the float storage should hold the norm weights only");
        ParameterLayout.View matrix = p.layout().view("encoder_hash_tok_embedding.0.weight");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> p.offset(matrix));
        assertTrue(e.getMessage().contains("inference only"), e.getMessage());
        IllegalArgumentException save = assertThrows(IllegalArgumentException.class, () -> new SafetensorsWriter().addAll(p));
        assertTrue(save.getMessage().contains("--dtype f32"), save.getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {"a_english", "b_mixed", "c_packed_a_then_b"})
    void logitsMatchTheWidenedOracleAndBitsPerByteStayCloseToFloat32(String name) {
        JsonNode c = golden.get("cases").get(name);
        int[] x = ints(c.get("x")), y = ints(c.get("y")), lengths = ints(c.get("patch_lengths"));
        int N = x.length;
        float[] got = mapped.forward(x, N, lengths).clone();
        float[] nll = new float[N];
        double bpb = mapped.loss(y, nll, false) / Math.log(2) / y.length;
        float[] want = widened.forward(x, N, lengths);
        double worst = 0;
        for (int i = 0; i < N * 260; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
        assertTrue(worst < LOGIT_TOL, name + ": max |Δlogit| vs widened BF16 " + worst);
        double f32 = c.get("bpb").asDouble();
        System.out.printf("reference BLT %s in BF16 (mapped): bpb %.6f vs float32 %.6f (Δ %+.2e), max |Δlogit| vs widened %.1e%n",
                name, bpb, f32, bpb - f32, worst);
        assertEquals(f32, bpb, BPB_TOL, name + ": bits per byte of the BF16 model");
    }

    @Test
    void greedyGenerationIsTheWidenedOraclesAndStaysMapped() throws Exception {
        JsonNode gen = Json.MAPPER.readTree(ReferenceBltTest.resource("generation_golden.json").toFile());
        var patcher = PatcherConfig.entropy(gen.get("threshold").doubleValue()).build();
        ModelDirectory dir = ModelDirectory.of(bf16);
        EntropyModel mappedEntropy = new EntropyModel(dir.loadEntropyModel(WeightStorage.AUTO));
        assertTrue(mappedEntropy.model().parameters().hasMappedViews());
        EntropyModel widenedEntropy = new EntropyModel(dir.loadEntropyModel(WeightStorage.F32));
        JsonNode c = gen.get("greedy_generation");
        byte[] prompt = c.get("prompt").textValue().getBytes(StandardCharsets.UTF_8);
        var settings = BltGeneration.Settings.reference(c.get("max_gen_len").intValue());
        int[] a = new BltGenerator(mapped, mappedEntropy, patcher).generate(prompt, settings, s -> true).ids();
        int[] b = new BltGenerator(widened, widenedEntropy, patcher).generate(prompt, settings, s -> true).ids();
        assertArrayEquals(b, a);
        int[] f32 = Json.MAPPER.convertValue(c.get("generated_ids"), int[].class);
        int same = 0;
        while (same < Math.min(f32.length, a.length) && f32[same] == a[same]) same++;
        System.out.printf("reference BLT greedy generation in BF16: first %d of %d ids equal the float32 reference's%n", same, f32.length);
    }

    @ParameterizedTest
    @ValueSource(strings = {"hub", "consolidated"})
    void float32FilesKeptMappedGiveTheReferenceLogits(String layout) {
        Path dir = layout.equals("hub") ? reference : reference.resolve("blt_consolidated");
        Blt m = ModelDirectory.of(dir).loadBlt(WeightStorage.MAPPED);
        assertTrue(m.parameters().hasMappedViews());
        JsonNode c = golden.get("cases").get("a_english");
        int[] x = ints(c.get("x"));
        float[] logits = m.forward(x, x.length, ints(c.get("patch_lengths")));
        for (int t = 0; t < 4; t++) ReferenceBltTest.compareRow(logits, t, c.get("logits_first4").get(t), layout + " mapped F32");
        // AUTO leaves a float32 file as a plain float32 buffer (as before)
        assertFalse(ModelDirectory.of(dir).loadBlt(WeightStorage.AUTO).parameters().hasMappedViews());
    }
}

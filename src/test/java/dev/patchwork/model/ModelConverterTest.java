package dev.patchwork.model;

import com.fasterxml.jackson.databind.JsonNode;
import dev.patchwork.io.HfNames;
import dev.patchwork.io.Safetensors;
import dev.patchwork.io.SafetensorsFile;
import dev.patchwork.io.TensorEntry;
import dev.patchwork.patch.EntropyModel;
import dev.patchwork.util.Json;
import dev.patchwork.util.PatchworkException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.*;

/**
 * {@link ModelConverter} on the reference-tiny golden set: hub → HF → reference gives every tensor back bit for bit,
 * the HF copy has the transformers port's names, and it loads through {@link ModelDirectory} into a model that
 * reproduces the reference's golden logits, NLL and bits per byte.
 */
class ModelConverterTest {
    @TempDir
    Path tmp;

    static Path hub() throws Exception {
        return Path.of(ModelConverterTest.class.getResource("/reference-tiny/config.json").toURI()).getParent();
    }

    /** Asserts that two safetensors files hold the same names, dtypes, shapes and bytes. */
    static void assertSameTensors(Path expected, Path actual) {
        try (SafetensorsFile a = Safetensors.open(expected); SafetensorsFile b = Safetensors.open(actual)) {
            assertEquals(new TreeSet<>(a.names()), new TreeSet<>(b.names()), actual.toString());
            for (TensorEntry t : a.tensors()) {
                TensorEntry u = b.tensor(t.name());
                assertEquals(t.dtype(), u.dtype(), t.name());
                assertArrayEquals(t.shape(), u.shape(), t.name());
                assertEquals(-1, t.data().mismatch(u.data()), t.name() + " bytes");
            }
        }
    }

    @Test
    void hubToHfToReferenceGivesBitIdenticalTensorsAndConfigs() throws Exception {
        Path hf = tmp.resolve("hf"), back = tmp.resolve("back"), run = tmp.resolve("run");
        ModelConverter.convert(hub(), hf, ModelConverter.Format.HF);
        ModelConverter.convert(hf, back, ModelConverter.Format.REFERENCE);
        assertSameTensors(hub().resolve("model.safetensors"), back.resolve("model.safetensors"));
        assertSameTensors(hub().resolve("entropy_model/model.safetensors"), back.resolve("entropy_model/model.safetensors"));
        assertEquals(Json.readTree(hub().resolve("config.json")), Json.readTree(back.resolve("config.json")));
        assertEquals(Json.readTree(hub().resolve("entropy_model/config.json")), Json.readTree(back.resolve("entropy_model/config.json")));
        assertEquals(Json.readTree(hub().resolve("train_args.json")), Json.readTree(back.resolve("train_args.json")));
        // and on into a Patchwork run directory, whose checkpoint/ is the same again
        ModelConverter.convert(back, run, ModelConverter.Format.PATCHWORK);
        assertSameTensors(hub().resolve("model.safetensors"), run.resolve("checkpoint/model.safetensors"));
        assertEquals(ModelDirectory.Kind.BLT, ModelDirectory.of(run).kind());
    }

    /** BF16 weights (as the released checkpoints have) stay BF16 through hub → HF → reference, byte for byte. */
    @Test
    void bf16WeightsKeepTheirDtypeAndBytes() throws Exception {
        Path bf16 = Files.createDirectory(tmp.resolve("bf16"));
        Files.copy(hub().resolve("config.json"), bf16.resolve("config.json"));
        try (SafetensorsFile f = Safetensors.open(hub().resolve("model.safetensors"))) {
            var w = new dev.patchwork.io.TensorCopyWriter();
            for (TensorEntry t : f.tensors()) {
                float[] v = t.toFloatArray();
                var bytes = java.lang.foreign.MemorySegment.ofArray(new byte[v.length * 2]);
                for (int i = 0; i < v.length; i++)   // truncate to the top 16 bits: a BF16 value
                    bytes.set(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), 2L * i,
                            (short) (Float.floatToRawIntBits(v[i]) >>> 16));
                w.add(t.name(), dev.patchwork.io.Dtype.BF16, t.shape(), java.util.List.of(bytes));
            }
            w.write(bf16.resolve("model.safetensors"));
        }
        Path hf = tmp.resolve("hf"), back = tmp.resolve("back");
        ModelConverter.convert(bf16, hf, ModelConverter.Format.HF);
        ModelConverter.convert(hf, back, ModelConverter.Format.REFERENCE);
        assertSameTensors(bf16.resolve("model.safetensors"), back.resolve("model.safetensors"));
        try (SafetensorsFile f = Safetensors.open(hf.resolve("model.safetensors"))) {
            assertEquals(dev.patchwork.io.Dtype.BF16, f.tensor(HfNames.FUSED_HASH_TABLE).dtype());
        }
        assertEquals(-1, ModelDirectory.of(bf16).loadBlt().parameters().segment().mismatch(ModelDirectory.of(hf).loadBlt().parameters().segment()));
    }

    @Test
    void theHfCopyHasTheTransformersNamesAndTheFusedHashTable() throws Exception {
        Path hf = tmp.resolve("hf");
        ModelConverter.convert(hub(), hf, ModelConverter.Format.HF);
        JsonNode config = Json.readTree(hf.resolve("config.json"));
        assertEquals("blt", config.get("model_type").asText());
        assertEquals(80, config.get("global_config").get("hidden_size").asInt());
        assertEquals(24, config.get("encoder_config").get("hidden_size").asInt());
        assertTrue(HfLayout.isHf(hf));
        try (SafetensorsFile f = Safetensors.open(hf.resolve("model.safetensors"));
             SafetensorsFile ref = Safetensors.open(hub().resolve("model.safetensors"));
             SafetensorsFile lm = Safetensors.open(hub().resolve("entropy_model/model.safetensors"))) {
            Set<String> names = f.names();
            for (String n : new String[]{"lm_head.weight", "model.local_encoder.embed_tokens.weight",
                    "model.global_transformer.layers.0.self_attn.q_proj.weight", "model.global_transformer.layers.1.mlp.gate_proj.weight",
                    "model.global_transformer.layers.1.mlp.up_proj.weight", "model.global_transformer.layers.1.mlp.down_proj.weight",
                    "model.local_decoder.layers.0.input_layernorm.weight", "model.local_decoder.layers.0.post_attention_layernorm.weight",
                    "model.local_decoder.cross_attn_layers.1.q_norm.weight", "model.local_decoder.cross_attn_layers.1.k_norm.weight",
                    "model.local_encoder.cross_attn_layers.0.o_proj.weight", "model.local_decoder.norm.weight",
                    "model.local_decoder.patch_embedding_projection.weight", "model.global_transformer.token_embedding_projection.weight",
                    "model.patcher.embed_tokens.weight", "model.patcher.lm_head.weight", "model.patcher.norm.weight",
                    "model.patcher.layers.0.self_attn.k_proj.weight", HfNames.FUSED_HASH_TABLE})
                assertTrue(names.contains(n), n + " in " + names);
            assertEquals(ref.names().size() - 12 + 1 + lm.names().size(), names.size());
            TensorEntry fused = f.tensor(HfNames.FUSED_HASH_TABLE);
            assertArrayEquals(new long[]{12 * 997, 24}, fused.shape());
            long tableBytes = 997L * 24 * 4;
            for (int i = 0; i < 12; i++)
                assertEquals(-1, ref.tensor(HfNames.hashTable(i)).data().mismatch(fused.data().asSlice(i * tableBytes, tableBytes)), "table " + i);
        }
    }

    @Test
    void theHfCopyReproducesTheGoldenLogitsAndBitsPerByte() throws Exception {
        Path hf = tmp.resolve("hf");
        ModelConverter.convert(hub(), hf, ModelConverter.Format.HF);
        ModelDirectory md = ModelDirectory.of(hf);
        assertEquals(ModelDirectory.Kind.BLT, md.kind());
        Blt model = md.loadBlt();
        Blt reference = BltCheckpoint.load(hub());
        assertEquals(reference.config(), model.config());
        assertEquals(-1, reference.parameters().segment().mismatch(model.parameters().segment()), "weights bit for bit");
        ByteLm entropy = ByteLmCheckpoint.load(BltCheckpoint.entropyModel(hf).orElseThrow());
        assertEquals(-1, ByteLmCheckpoint.load(hub().resolve("entropy_model")).parameters().segment().mismatch(entropy.parameters().segment()));
        assertEquals(3.1328125, BltCheckpoint.patcherArgs(hf).get("threshold").asDouble(), 0.0, "patcher settings kept");

        JsonNode c = Json.MAPPER.readTree(hub().resolve("blt_golden.json").toFile()).get("cases").get("a_english");
        int[] x = Json.MAPPER.convertValue(c.get("x"), int[].class), y = Json.MAPPER.convertValue(c.get("y"), int[].class);
        float[] logits = model.forward(x, x.length, Json.MAPPER.convertValue(c.get("patch_lengths"), int[].class));
        for (int t = 0; t < 4; t++)
            for (int v = 0; v < 260; v++)
                assertEquals(c.get("logits_first4").get(t).get(v).asDouble(), logits[t * 260 + v], 1e-4, "logit " + v + " at " + t);
        double bpb = model.loss(y, new float[x.length], false) / Math.log(2) / y.length;
        assertEquals(c.get("bpb").asDouble(), bpb, 1e-5);
    }

    @Test
    void aConsolidatedSourceConvertsToHfAndBack() throws Exception {
        Path src = Path.of(ModelConverterTest.class.getResource("/reference-tiny/blt_consolidated/params.json").toURI()).getParent();
        Path hf = tmp.resolve("hf"), back = tmp.resolve("back");
        ModelConverter.convert(src, hf, ModelConverter.Format.HF);
        ModelConverter.convert(hf, back, ModelConverter.Format.REFERENCE);
        assertSameTensors(hub().resolve("model.safetensors"), back.resolve("model.safetensors"));
        assertFalse(Files.exists(back.resolve("entropy_model")), "the consolidated BLT has no entropy model");
        assertEquals(-1, BltCheckpoint.load(hub()).parameters().segment().mismatch(ModelDirectory.of(hf).loadBlt().parameters().segment()));
    }

    @Test
    void aByteLmConvertsToReferenceButNotToHf() throws Exception {
        Path lm = tmp.resolve("lm");
        ModelConverter.convert(hub().resolve("entropy_model"), lm, ModelConverter.Format.REFERENCE);
        assertSameTensors(hub().resolve("entropy_model/model.safetensors"), lm.resolve("model.safetensors"));
        var e = assertThrows(PatchworkException.class, () -> ModelConverter.convert(hub().resolve("entropy_model"), tmp.resolve("x"), ModelConverter.Format.HF));
        assertTrue(e.getMessage().contains("BLTs only"), e.getMessage());
        assertFalse(Files.exists(tmp.resolve("x")));
    }

    @Test
    void anExistingTargetIsRefusedAndLeftAlone() throws Exception {
        Path target = Files.createDirectory(tmp.resolve("taken"));
        Files.writeString(target.resolve("keep.txt"), "mine");
        var e = assertThrows(PatchworkException.class, () -> ModelConverter.convert(hub(), target, ModelConverter.Format.HF));
        assertTrue(e.getMessage().contains("already exists"), e.getMessage());
        assertEquals("mine", Files.readString(target.resolve("keep.txt")));
    }

    /** A config as the transformers converter writes it (no reference arguments): they are derived from its fields. */
    @Test
    void anHfConfigWithoutTheReferenceArgumentsIsReadFromItsHfFields() throws Exception {
        Path hf = tmp.resolve("hf");
        ModelConverter.convert(hub(), hf, ModelConverter.Format.HF);
        var config = (com.fasterxml.jackson.databind.node.ObjectNode) Json.readTree(hf.resolve("config.json"));
        config.remove(HfLayout.REFERENCE_KEY);
        Files.writeString(hf.resolve("config.json"), config.toString());
        BltConfig derived = ModelDirectory.of(hf).bltConfig(), original = BltConfig.read(hub().resolve("config.json"));
        assertEquals(Blt.layoutOf(original).views(), Blt.layoutOf(derived).views(), "the same tensors and shapes");
        assertEquals(512, derived.localWindow(), "the released models' window, which the HF config does not hold");
        assertEquals(original.patchingThreshold(), derived.patchingThreshold());
        assertEquals(-1, BltCheckpoint.load(hub()).parameters().segment().mismatch(ModelDirectory.of(hf).loadBlt().parameters().segment()));
        assertEquals(-1, ByteLmCheckpoint.load(hub().resolve("entropy_model")).parameters().segment()
                .mismatch(ByteLmCheckpoint.load(hf).parameters().segment()));

        config.remove("global_config");
        Files.writeString(hf.resolve("config.json"), config.toString());
        var e = assertThrows(PatchworkException.class, () -> ModelDirectory.of(hf).loadBlt());
        assertTrue(e.getMessage().contains("global_config") && !e.getMessage().contains("\n"), e.getMessage());
    }

    /** blt-1b's arguments survive the HF config's fields: the same layout, window, heads and FFN sizes. */
    @Test
    void blt1bArgumentsSurviveTheHfConfigFields() {
        var args = dev.patchwork.bench.LoadBench.blt1bArgs();
        var entropy = dev.patchwork.bench.LoadBench.entropyArgs();
        JsonNode ref = HfLayout.fromHfConfig(HfLayout.config(args, entropy, null).without(HfLayout.REFERENCE_KEY));
        BltConfig a = BltConfig.fromJson(args, "blt-1b"), b = BltConfig.fromJson(ref.get("args"), "derived");
        assertEquals(Blt.layoutOf(a).views(), Blt.layoutOf(b).views());
        assertEquals(a.crossAttnNheads(), b.crossAttnNheads());
        assertEquals(a.localWindow(), b.localWindow());
        assertEquals(a.ropeTheta(), b.ropeTheta());
        assertEquals(a.maxEncoderSeqLength(), b.maxEncoderSeqLength());
        ByteLmConfig ea = ByteLmConfig.fromJson(entropy, "entropy"), eb = ByteLmConfig.fromJson(ref.get("entropy_args"), "derived entropy");
        assertEquals(ByteLm.layoutOf(ea).views(), ByteLm.layoutOf(eb).views());
        assertEquals(ea.slidingWindow(), eb.slidingWindow());
        assertEquals(ea.ropeTheta(), eb.ropeTheta());
    }

    @Test
    void theEntropyModelOfTheHfCopyGivesTheGoldenEntropies() throws Exception {
        Path hf = tmp.resolve("hf");
        ModelConverter.convert(hub(), hf, ModelConverter.Format.HF);
        EntropyModel model = EntropyModel.load(BltCheckpoint.entropyModel(hf).orElseThrow());
        JsonNode doc = Json.MAPPER.readTree(hub().resolve("entropy_golden.json").toFile()).get("documents").get(0);
        int[] ids = Json.MAPPER.convertValue(doc.get("token_ids"), int[].class);
        double[] expected = Json.MAPPER.convertValue(doc.get("entropies"), double[].class);
        float[] h = model.entropies(ids);
        for (int t = 0; t < ids.length; t++) assertEquals(expected[t], h[t], 1e-4, "position " + t);
    }
}

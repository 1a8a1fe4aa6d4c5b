package dev.patchwork.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.patchwork.util.Json;
import dev.patchwork.util.PatchworkException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

/** BltConfig reads the reference's hub config, writes it back whole, and refuses bad settings naming the field. */
class BltConfigTest {
    static Path referenceConfig() throws Exception {
        return Path.of(BltConfigTest.class.getResource("/reference-tiny/config.json").toURI());
    }

    @Test
    void readsTheReferenceHubConfig() throws Exception {
        BltConfig c = BltConfig.read(referenceConfig());
        assertEquals(80, c.dimGlobal());
        assertEquals(24, c.dimLocalEncoder());
        assertEquals(2, c.nLayersLocalEncoder());
        assertEquals(3, c.nHeadsLocalDecoder());
        assertEquals(2, c.crossAttnK());
        assertEquals(2, c.crossAttnNheads());
        assertFalse(c.crossAttnAllLayersEncoder());
        assertTrue(c.crossAttnAllLayersDecoder());
        assertEquals(List.of(3, 4, 5, 6, 7, 8), c.encoderHashByteGroupSize());
        assertEquals(12, c.hashTables());
        assertEquals(997, c.encoderHashByteGroupVocab());
        assertEquals(48, c.localWindow());
        assertEquals(100000.0, c.ropeTheta());
        assertEquals(12288, c.maxEncoderSeqLength());
        assertEquals(72, c.ffnHidden(24));  // 64 rounded up to a multiple of 24
        assertEquals(216, c.ffnHidden(80)); // 213 → 216
        assertEquals(8, c.encoderHeadDim());
        assertEquals(20, c.globalHeadDim());
        assertTrue(c.hasGlobalProjection());  // 2·24 = 48 ≠ 80
        assertTrue(c.hasDecoderProjection()); // 80 ≠ 24
        assertTrue(c.globalEosSegments());
        assertEquals("entropy", c.patchingMode());
        assertEquals(3.1328125, c.patchingThreshold());
        assertEquals(4.5, c.patchSize());
        assertEquals("xformers", c.inert().get("attn_impl").asText());
    }

    @Test
    void writesBackEveryFieldOfTheReferenceWithTheSameValues() throws Exception {
        JsonNode reference = Json.readTree(referenceConfig()).get("args");
        BltConfig c = BltConfig.read(referenceConfig());
        JsonNode written = Json.MAPPER.readTree(c.toJson());
        assertEquals(1, written.size());
        JsonNode args = written.get("args");
        for (Iterator<Map.Entry<String, JsonNode>> it = reference.fields(); it.hasNext(); ) {
            var e = it.next();
            JsonNode ours = args.get(e.getKey());
            assertNotNull(ours, "field " + e.getKey() + " is not written");
            if (e.getValue().isNumber()) assertEquals(e.getValue().doubleValue(), ours.doubleValue(), e.getKey());
            else assertEquals(e.getValue(), ours, e.getKey());
        }
        assertEquals(reference.size(), args.size(), "no extra fields");
        assertEquals(c, BltConfig.fromJson(written, "written"));
        // keys are sorted, as the reference's json.dumps(sort_keys=True) writes them
        String previous = "";
        for (Iterator<String> it = args.fieldNames(); it.hasNext(); ) {
            String name = it.next();
            assertTrue(name.compareTo(previous) > 0, name + " after " + previous);
            previous = name;
        }
    }

    /** The full TrainArgs dump beside a hub model repeats the model args under "model": the same config. */
    @Test
    void theModelSectionOfTrainArgsIsTheSameConfig() throws Exception {
        JsonNode trainArgs = Json.readTree(referenceConfig().resolveSibling("train_args.json"));
        assertEquals(BltConfig.read(referenceConfig()), BltConfig.fromJson(trainArgs.get("model"), "train_args.json model"));
        assertEquals(3.1328125, trainArgs.get("data").get("patcher_args").get("threshold").asDouble());
    }

    @Test
    void aBareObjectWithFewFieldsTakesTheDefaults() {
        // dim_global must differ from the local width (512 by default) for the decoder's projection to exist
        BltConfig c = parse("{\"cross_attn_k\": 2, \"cross_attn_nheads\": 8, \"dim_global\": 1024}");
        assertEquals(512, c.dimLocalEncoder());
        assertEquals(260, c.vocabSize());
        assertTrue(c.crossAttnEncoder() && c.crossAttnDecoder() && c.crossAttnInitByPooling());
        assertEquals("max", c.downsamplingByPooling());
        assertEquals(0, c.hashTables()); // the reference's default: no hash n-gram tables
        assertEquals("block_causal", c.attnBiasType());
        assertEquals(0, c.localWindow());
    }

    @Test
    void hashSizesMayBeACommaSeparatedString() {
        BltConfig c = parse("{\"cross_attn_k\": 1, \"cross_attn_nheads\": 8, \"encoder_hash_byte_group_size\": \"3,4,5,\"}");
        assertEquals(List.of(3, 4, 5), c.encoderHashByteGroupSize());
    }

    static BltConfig parse(String json) {
        try {
            return BltConfig.fromJson(Json.MAPPER.readTree(json), "test.json");
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The reference config with one field replaced (a JSON value) or removed ("-"). */
    static String referenceWith(String field, String value) throws Exception {
        ObjectNode args = (ObjectNode) Json.readTree(referenceConfig()).get("args");
        if (value.equals("-")) args.remove(field);
        else args.set(field, Json.MAPPER.readTree(value));
        return Json.write(Map.of("args", args));
    }

    @ParameterizedTest(name = "{0} = {1}")
    @CsvSource(delimiter = '|', value = {
            "dim_glbal                    | 80          | unknown field 'dim_glbal'",
            "dim_global                   | \"wide\"    | dim_global must be an integer",
            "n_heads_global               | 3           | n_heads_global (3) must divide dim_global (80)",
            "n_heads_local_encoder        | 8           | head dimensions must be even",
            "cross_attn_nheads            | 5           | cross_attn_nheads (5) must divide dim_local_encoder (24)",
            "cross_attn_nheads            | -           | cross_attn_nheads must be set",
            "cross_attn_k                 | 0           | cross_attn_k must be > 0",
            "dim_local_decoder            | 48          | dim_local_decoder (48) must equal dim_local_encoder (24)",
            "dim_global                   | 24          | cross_attn_k = 2 needs dim_global != dim_local_decoder",
            "cross_attn_init_by_pooling   | false       | cross_attn_init_by_pooling=false is not supported",
            "cross_attn_encoder           | false       | cross_attn_encoder=false is not supported",
            "cross_attn_decoder           | false       | cross_attn_decoder=false is not supported",
            "downsampling_by_pooling      | \"avg\"     | downsampling_by_pooling 'avg' is not supported",
            "patching_mode                | \"words\"   | patching_mode must be one of",
            "patching_mode                | \"\"        | patching_mode \"\" (MegaByte-style BOE padding",
            "encoder_hash_byte_group_nb_functions | 12  | encoder_hash_byte_group_nb_functions must be in [0, 11]",
            "encoder_hash_byte_group_size | [3, 0]      | encoder_hash_byte_group_size entries must be >= 1",
            "local_attention_window_len   | 0           | local_attention_window_len must be > 0 or null",
            "attn_bias_type               | \"local_block_causal\" | attn_bias_type (of the global model) must be one of",
            "init_std_factor              | \"depth\"   | init_std_factor must be one of",
            "dropout                      | 0.1         | dropout=0.1 is not supported",
            "use_rope                     | false       | use_rope=false is not supported",
            "non_linearity                | \"gelu\"    | non_linearity='gelu' is not supported",
            "n_kv_heads                   | 2           | n_kv_heads (2) must divide n_heads_local_encoder (3)",
            "vocab_size                   | 3           | vocab_size must be at least 5",
    })
    void badSettingsAreRefusedNamingTheField(String field, String value, String message) throws Exception {
        String json = referenceWith(field, value);
        var e = assertThrows(PatchworkException.class, () -> BltConfig.fromJson(Json.MAPPER.readTree(json), "cfg.json"));
        assertTrue(e.getMessage().startsWith("cfg.json: "), e.getMessage());
        assertTrue(e.getMessage().contains(message), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
    }
}

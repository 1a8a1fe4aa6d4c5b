package dev.patchwork.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.tensor.ParameterLayout;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Reads the reference implementation's tiny entropy model (written by the Python safetensors library), copied from
 * {@code shared/testdata/blt/reference-tiny/entropy_model}. Expected names and shapes follow from its config.json
 * and the Llama-style layer naming; values are checked against a plain ByteBuffer read of the same bytes.
 */
class ReferenceCheckpointTest {
    private static Path resource(String name) throws URISyntaxException {
        return Path.of(ReferenceCheckpointTest.class.getResource("/reference-tiny/entropy_model/" + name).toURI());
    }

    /** Name → shape, as the reference implementation names a Llama-style byte transformer's parameters. */
    private static Map<String, int[]> expectedTensors(JsonNode args) {
        int dim = args.get("dim").asInt(), vocab = args.get("vocab_size").asInt(), layers = args.get("n_layers").asInt();
        // Llama feed-forward width: 2/3 of 4*dim, scaled, rounded up to a multiple of multiple_of.
        int multipleOf = args.get("multiple_of").asInt();
        int hidden = (int) (args.get("ffn_dim_multiplier").asDouble() * (2 * (4 * dim) / 3));
        hidden = (hidden + multipleOf - 1) / multipleOf * multipleOf;
        Map<String, int[]> m = new LinkedHashMap<>();
        m.put("tok_embeddings.weight", new int[]{vocab, dim});
        for (int l = 0; l < layers; l++) {
            String p = "layers." + l + ".";
            for (String w : List.of("wq", "wk", "wv", "wo")) m.put(p + "attention." + w + ".weight", new int[]{dim, dim});
            m.put(p + "attention_norm.weight", new int[]{dim});
            m.put(p + "feed_forward.w1.weight", new int[]{hidden, dim});
            m.put(p + "feed_forward.w2.weight", new int[]{dim, hidden});
            m.put(p + "feed_forward.w3.weight", new int[]{hidden, dim});
            m.put(p + "ffn_norm.weight", new int[]{dim});
        }
        m.put("norm.weight", new int[]{dim});
        m.put("output.weight", new int[]{vocab, dim});
        return m;
    }

    @Test
    void referenceEntropyModelHas21F32TensorsWithTheExpectedNamesAndShapes() throws Exception {
        JsonNode args = new ObjectMapper().readTree(Files.readString(resource("config.json"))).get("args");
        Map<String, int[]> expected = expectedTensors(args);
        assertEquals(21, expected.size());
        assertArrayEquals(new int[]{260, 24}, expected.get("tok_embeddings.weight"));
        assertArrayEquals(new int[]{24, 24}, expected.get("layers.0.attention.wq.weight"));
        assertArrayEquals(new int[]{24}, expected.get("norm.weight"));
        assertArrayEquals(new int[]{260, 24}, expected.get("output.weight"));
        assertArrayEquals(new int[]{256, 24}, expected.get("layers.1.feed_forward.w1.weight"));

        try (SafetensorsFile f = Safetensors.open(resource("model.safetensors"))) {
            assertEquals(21, f.tensors().size());
            assertEquals(expected.keySet(), f.names());
            for (TensorEntry t : f.tensors()) {
                assertEquals(Dtype.F32, t.dtype(), t.name());
                assertTrue(t.hasShape(expected.get(t.name())), t.name() + " has " + t);
            }
        }
    }

    @Test
    void referenceTensorsLoadIntoAParameterBufferWithTheFileBytes() throws Exception {
        JsonNode args = new ObjectMapper().readTree(Files.readString(resource("config.json"))).get("args");
        ParameterLayout.Builder b = ParameterLayout.builder();
        expectedTensors(args).forEach(b::add); // layout order differs from the file's alphabetical order
        ParameterLayout layout = b.build();
        ParameterBuffer params = ParameterBuffer.allocate(layout);
        Checkpoint.loadModel(resource("model.safetensors").getParent(), params);

        ByteBuffer raw = rawFile();
        long headerLength = raw.getLong(0);
        JsonNode header = new ObjectMapper().readTree(new String(Files.readAllBytes(resource("model.safetensors")),
                8, (int) headerLength, java.nio.charset.StandardCharsets.UTF_8));
        for (ParameterLayout.View v : layout.views()) {
            long begin = header.get(v.name()).get("data_offsets").get(0).asLong();
            float[] got = params.toArray(v);
            for (int i = 0; i < got.length; i++) {
                float want = raw.getFloat((int) (8 + headerLength + begin + 4L * i));
                assertEquals(Float.floatToRawIntBits(want), Float.floatToRawIntBits(got[i]), v.name() + "[" + i + "]");
                assertTrue(Float.isFinite(got[i]), v.name() + "[" + i + "] = " + got[i]);
            }
        }
        // a trained model: the embedding is not all zeros (which a loader that copied nothing would give)
        float sum = 0;
        for (float x : params.toArray(layout.view("tok_embeddings.weight"))) sum += Math.abs(x);
        assertTrue(sum > 1, "tok_embeddings looks empty: " + sum);
    }

    private static ByteBuffer rawFile() throws IOException, URISyntaxException {
        return ByteBuffer.wrap(Files.readAllBytes(resource("model.safetensors"))).order(ByteOrder.LITTLE_ENDIAN);
    }
}

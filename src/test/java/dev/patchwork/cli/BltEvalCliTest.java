package dev.patchwork.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.patchwork.eval.FlopAccounting;
import dev.patchwork.model.BltConfig;
import dev.patchwork.util.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/**
 * {@code patchwork eval} on the reference's own tiny BLT (hub layout in test resources: config.json,
 * model.safetensors, train_args.json with the patcher's threshold, entropy_model/): from raw text to the reference's
 * golden bits per byte, through our entropies, our patches and our windows.
 */
class BltEvalCliTest {
    static Path resource(String name) throws Exception {
        return Path.of(BltEvalCliTest.class.getResource("/reference-tiny/" + name).toURI());
    }

    static JsonNode goldenCase(String name) throws Exception {
        return Json.MAPPER.readTree(resource("blt_golden.json").toFile()).get("cases").get(name);
    }

    static String goldenText(int document) throws Exception {
        return Json.MAPPER.readTree(resource("patch_golden.json").toFile()).get("documents").get(document).get("text").asText();
    }

    @Test
    void theReferenceTinyBltGivesTheGoldenBitsPerByteOfTextA(@TempDir Path tmp) throws Exception {
        Path text = tmp.resolve("a.txt");
        Files.writeString(text, goldenText(0));
        CliTest.Run r = CliTest.run("eval", "--model", resource("config.json").getParent().toString(), "--data", text.toString(), "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = Json.MAPPER.readTree(r.out());
        JsonNode golden = goldenCase("a_english");
        assertEquals("blt", j.get("model").asText());
        assertEquals(golden.get("bpb").asDouble(), j.get("bits_per_byte").asDouble(), 1e-5, r.out());
        assertEquals(247, j.get("bytes").asLong());
        assertEquals(golden.get("num_predicted_bytes").asLong(), j.get("predicted_tokens").asLong());
        assertEquals(1, j.get("windows").asLong());
        assertEquals(golden.get("num_patches").asLong(), j.get("patches").asLong());
        assertEquals(249.0 / 55, j.get("mean_patch_size").asDouble(), 1e-12);
        BltConfig c = BltConfig.read(resource("config.json"));
        double flops = FlopAccounting.bltPerByte(c, 248, 249.0 / 55);
        assertEquals(flops, j.get("flops_per_byte_inference").asDouble(), 1e-6 * flops);
        assertEquals(3 * flops, j.get("flops_per_byte_train").asDouble(), 1e-6 * flops);
    }

    /** Both golden texts as two documents of one JSONL file: the targets and NLL of the two cases add up. */
    @Test
    void twoDocumentsAreScoredEachOnItsOwn(@TempDir Path tmp) throws Exception {
        Path jsonl = tmp.resolve("ab.jsonl");
        Files.writeString(jsonl, Json.MAPPER.createObjectNode().put("text", goldenText(0)).toString().replace("\n", "") + "\n"
                + Json.MAPPER.createObjectNode().put("text", goldenText(1)).toString().replace("\n", "") + "\n");
        CliTest.Run r = CliTest.run("eval", "--model", resource("config.json").getParent().toString(), "--data", jsonl.toString(), "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = Json.MAPPER.readTree(r.out());
        JsonNode a = goldenCase("a_english"), b = goldenCase("b_mixed");
        long targets = a.get("num_predicted_bytes").asLong() + b.get("num_predicted_bytes").asLong();
        assertEquals(targets, j.get("predicted_tokens").asLong());
        double expected = (a.get("sum_nll_nats").asDouble() + b.get("sum_nll_nats").asDouble()) / Math.log(2) / targets;
        assertEquals(expected, j.get("bits_per_byte").asDouble(), 1e-5);
        assertEquals(a.get("num_patches").asLong() + b.get("num_patches").asLong(), j.get("patches").asLong());
    }

    /** Windows of at most 20 patches: every target is still scored once, and the text output names patches and FLOPs. */
    @Test
    void aDocumentLongerThanTheWindowIsScoredInWindows(@TempDir Path tmp) throws Exception {
        Path text = tmp.resolve("a.txt");
        Files.writeString(text, goldenText(0));
        CliTest.Run r = CliTest.run("eval", "--model", resource("config.json").getParent().toString(), "--data", text.toString(),
                "--json", "--seq-len", "20");
        assertEquals(0, r.code(), r.err());
        JsonNode j = Json.MAPPER.readTree(r.out());
        assertEquals(248, j.get("predicted_tokens").asLong());
        assertEquals(3, j.get("windows").asLong()); // 54 patches after BOS, 19 per window
        double bpb = j.get("bits_per_byte").asDouble();
        assertTrue(Math.abs(bpb - goldenCase("a_english").get("bpb").asDouble()) > 1e-4, "less context changes the loss: " + bpb);
        CliTest.Run t = CliTest.run("eval", "--model", resource("config.json").getParent().toString(), "--data", text.toString());
        assertEquals(0, t.code(), t.err());
        assertTrue(t.out().contains("11.4339 bits/byte") && t.out().contains("mean patch size 4.527"), t.out());
    }
}

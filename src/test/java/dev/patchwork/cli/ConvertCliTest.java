package dev.patchwork.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.patchwork.util.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** {@code patchwork convert}: an HF copy evaluates and generates like the hub original; bad input is one line. */
class ConvertCliTest {
    static Path hub() throws Exception {
        return Path.of(ConvertCliTest.class.getResource("/reference-tiny/config.json").toURI()).getParent();
    }

    @Test
    void anHfCopyEvaluatesToTheGoldenBitsPerByteAndGeneratesTheSameBytes(@TempDir Path tmp) throws Exception {
        Path hf = tmp.resolve("hf");
        CliTest.Run c = CliTest.run("convert", "--from", hub().toString(), "--to", hf.toString(), "--format", "hf");
        assertEquals(0, c.code(), c.err());
        JsonNode golden = Json.MAPPER.readTree(hub().resolve("blt_golden.json").toFile()).get("cases").get("a_english");
        Path text = tmp.resolve("a.txt");
        Files.writeString(text, Json.MAPPER.readTree(hub().resolve("patch_golden.json").toFile()).get("documents").get(0).get("text").asText());
        CliTest.Run e = CliTest.run("eval", "--model", hf.toString(), "--data", text.toString(), "--json");
        assertEquals(0, e.code(), e.err());
        assertEquals(golden.get("bpb").asDouble(), Json.MAPPER.readTree(e.out()).get("bits_per_byte").asDouble(), 1e-5, e.out());
        CliTest.Run a = CliTest.run("generate", "--model", hub().toString(), "--prompt", "The ", "--greedy", "--max-bytes", "24");
        CliTest.Run b = CliTest.run("generate", "--model", hf.toString(), "--prompt", "The ", "--greedy", "--max-bytes", "24");
        assertEquals(0, a.code(), a.err());
        assertEquals(0, b.code(), b.err());
        assertTrue(a.out().length() > 4, a.out());
        assertEquals(a.out(), b.out());
    }

    @Test
    void badInputIsOneLine(@TempDir Path tmp) throws Exception {
        String[][] cases = {
                {"--from", tmp.resolve("missing").toString(), "--to", tmp.resolve("o1").toString(), "--format", "hf"},
                {"--from", hub().toString(), "--to", tmp.resolve("o2").toString(), "--format", "onnx"},
                {"--from", hub().toString(), "--to", tmp.toString(), "--format", "reference"},
                {"--from", hub().resolve("entropy_model").toString(), "--to", tmp.resolve("o3").toString(), "--format", "hf"}};
        for (String[] args : cases) {
            String[] full = new String[args.length + 1];
            full[0] = "convert";
            System.arraycopy(args, 0, full, 1, args.length);
            CliTest.Run r = CliTest.run(full);
            assertEquals(1, r.code(), String.join(" ", args) + ": " + r.out() + r.err());
            assertEquals(1, r.err().strip().lines().count(), r.err());
            assertTrue(r.err().startsWith("patchwork: error: "), r.err());
        }
        assertFalse(Files.exists(tmp.resolve("o1")) || Files.exists(tmp.resolve("o2")) || Files.exists(tmp.resolve("o3")));
    }
}

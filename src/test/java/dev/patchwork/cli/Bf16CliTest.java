package dev.patchwork.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.patchwork.io.Bf16Copies;
import dev.patchwork.util.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/**
 * {@code eval} and {@code generate} on reference-tiny in BF16: the default ({@code --dtype auto}) computes on the
 * mapped BF16 weights, {@code --dtype f32} on a float32 copy of the same values; both give the same bits per byte (to
 * summation order) and the same greedy bytes, close to the float32 model's golden bits per byte.
 */
class Bf16CliTest {
    @Test
    void evalAndGenerateOnABf16CheckpointWithEitherDtype(@TempDir Path tmp) throws Exception {
        Path bf16 = Bf16Copies.referenceTiny(BltEvalCliTest.resource("config.json").getParent(), tmp.resolve("bf16"));
        Path text = tmp.resolve("a.txt");
        Files.writeString(text, BltEvalCliTest.goldenText(0));
        double[] bpb = new double[2];
        String[] dtypes = {"auto", "f32"};
        for (int i = 0; i < 2; i++) {
            CliTest.Run r = CliTest.run("eval", "--model", bf16.toString(), "--data", text.toString(), "--json", "--dtype", dtypes[i]);
            assertEquals(0, r.code(), r.err());
            bpb[i] = Json.MAPPER.readTree(r.out()).get("bits_per_byte").asDouble();
        }
        assertEquals(bpb[1], bpb[0], 1e-5, "mapped BF16 vs widened BF16");
        JsonNode golden = BltEvalCliTest.goldenCase("a_english");
        assertEquals(golden.get("bpb").asDouble(), bpb[0], 0.01, "BF16 vs the float32 golden bits per byte");

        String[] out = new String[2];
        for (int i = 0; i < 2; i++) {
            CliTest.Run r = CliTest.run("generate", "--model", bf16.toString(), "--prompt", "Once upon", "--greedy",
                    "--max-bytes", "12", "--dtype", dtypes[i]);
            assertEquals(0, r.code(), r.err());
            out[i] = r.out();
        }
        assertEquals(out[1], out[0]);

        CliTest.Run bad = CliTest.run("eval", "--model", bf16.toString(), "--data", text.toString(), "--dtype", "fp8");
        assertNotEquals(0, bad.code());
        assertTrue(bad.err().contains("--dtype must be auto, f32 or mapped"), bad.err());
    }
}

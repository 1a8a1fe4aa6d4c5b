package dev.patchwork.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.patchwork.util.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static dev.patchwork.cli.CliTest.assertOneLineError;
import static dev.patchwork.cli.CliTest.run;
import static dev.patchwork.cli.CliTest.write;
import static org.junit.jupiter.api.Assertions.*;

/** {@code patchwork bench entropy} through the real command line. */
class BenchEntropyCliTest {
    @Test
    void jsonOnStdout(@TempDir Path tmp) throws Exception {
        Path cfg = write(tmp, "c.json", "{\"model\": {\"dim\": 16, \"n_layers\": 1, \"n_heads\": 2, \"multiple_of\": 16, \"max_seqlen\": 32}}");
        CliTest.Run r = run("bench", "entropy", "--mb", "0.005", "--json", "--no-peak", "--config", cfg.toString());
        assertEquals(0, r.code(), r.err());
        JsonNode j = Json.MAPPER.readTree(r.out());
        assertEquals("entropy", j.get("benchmark").asText());
        assertEquals(5_000, j.get("bytes").asLong());
        assertEquals(32, j.get("chunk_length").asInt());
        assertTrue(j.get("bytes_per_s").asDouble() > 0);
    }

    @Test
    void badSizeIsAOneLineError() {
        assertOneLineError(run("bench", "entropy", "--mb", "0"), "--mb must be > 0");
        assertOneLineError(run("bench", "entropy", "--mb", "-3"), "--mb must be > 0");
        assertOneLineError(run("bench", "entropy", "--reference-shape", "--config", "x.json"), "not both");
    }
}

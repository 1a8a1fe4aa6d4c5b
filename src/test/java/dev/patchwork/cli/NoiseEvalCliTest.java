package dev.patchwork.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.patchwork.util.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** {@code patchwork eval --noise}: bits per byte over the noised bytes, deterministic for a seed. */
class NoiseEvalCliTest {
    @Test
    void evalWithNoise(@TempDir Path tmp) throws Exception {
        Path data = CliTest.write(tmp, "data.txt", "hello world, hello bytes. ".repeat(40));
        Path cfg = CliTest.write(tmp, "c.json", CliTest.TINY);
        Path runDir = tmp.resolve("run");
        CliTest.Run t = CliTest.run("train", "--config", cfg.toString(), "--data", data.toString(), "--out", runDir.toString());
        assertEquals(0, t.code(), t.err());

        JsonNode clean = eval(runDir, data);
        assertEquals(1040, clean.get("bytes").asLong());
        JsonNode upper = eval(runDir, data, "--noise", "uppercase");
        assertEquals("uppercase", upper.get("noise").asText());
        assertEquals(1040, upper.get("bytes").asLong(), "ASCII upper-casing keeps the length");
        assertNotEquals(clean.get("bits_per_byte").asDouble(), upper.get("bits_per_byte").asDouble());
        JsonNode ant = eval(runDir, data, "--noise", "antspeak");
        assertEquals(2079, ant.get("bytes").asLong(), "a space between every two of the 1040 characters");
        JsonNode drop = eval(runDir, data, "--noise", "drop", "--noise-seed", "5");
        assertTrue(drop.get("bytes").asLong() < 1040 && drop.get("bytes").asLong() > 850, drop.toString());
        assertEquals(drop.get("bits_per_byte").asDouble(), eval(runDir, data, "--noise", "drop", "--noise-seed", "5").get("bits_per_byte").asDouble());
        assertNotEquals(drop.get("bits_per_byte").asDouble(),
                eval(runDir, data, "--noise", "drop", "--noise-seed", "6").get("bits_per_byte").asDouble(), "another seed drops other bytes");

        CliTest.assertOneLineError(CliTest.run("eval", "--model", runDir.toString(), "--data", data.toString(), "--noise", "shout"),
                "unknown noise 'shout'");
    }

    private static JsonNode eval(Path runDir, Path data, String... extra) throws Exception {
        String[] args = new String[6 + extra.length];
        String[] base = {"eval", "--model", runDir.toString(), "--data", data.toString(), "--json"};
        System.arraycopy(base, 0, args, 0, 6);
        System.arraycopy(extra, 0, args, 6, extra.length);
        CliTest.Run r = CliTest.run(args);
        assertEquals(0, r.code(), r.err());
        return Json.MAPPER.readTree(r.out());
    }
}

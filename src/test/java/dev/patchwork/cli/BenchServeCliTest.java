package dev.patchwork.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.patchwork.util.Json;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

class BenchServeCliTest {
    @Test
    void reportsTheFirstEventLatencyAsJson() throws Exception {
        Path model = Path.of(BenchServeCliTest.class.getResource("/reference-tiny").toURI());
        CliTest.Run r = CliTest.run("bench", "serve", "--model", model.toString(), "--requests", "3", "--max-tokens", "4", "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode j = Json.MAPPER.readTree(r.out());
        assertEquals(2, j.get("requests_timed").asInt());
        double first = j.get("first_event_ms_median").asDouble();
        assertTrue(first > 0 && first <= j.get("completion_ms_median").asDouble(), j.toString());
    }

    @Test
    void tooFewRequestsIsAOneLineError() throws Exception {
        Path model = Path.of(BenchServeCliTest.class.getResource("/reference-tiny").toURI());
        CliTest.assertOneLineError(CliTest.run("bench", "serve", "--model", model.toString(), "--requests", "1"), "--requests must be >= 2");
    }
}

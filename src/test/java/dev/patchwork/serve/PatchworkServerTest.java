package dev.patchwork.serve;

import com.fasterxml.jackson.databind.JsonNode;
import dev.patchwork.data.ByteTokens;
import dev.patchwork.generate.BltBundle;
import dev.patchwork.generate.BltGeneration;
import dev.patchwork.generate.SamplingOptions;
import dev.patchwork.generate.Utf8Stream;
import dev.patchwork.model.ModelDirectory;
import dev.patchwork.patch.EntropyModel;
import dev.patchwork.util.Json;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static dev.patchwork.serve.ServerFixtures.*;
import static org.junit.jupiter.api.Assertions.*;

/** Every route and every error of the server, on the tiny reference BLT (and a tiny byte LM), over loopback. */
class PatchworkServerTest {
    static final ServerLimits LIMITS = new ServerLimits(4096, 1024, 512, 4);
    static PatchworkServer blt;
    static PatchworkServer byteLm;
    static HttpClient http;

    @BeforeAll
    static void start() {
        blt = PatchworkServer.start(referenceTiny(), "127.0.0.1", 0, LIMITS);
        byteLm = PatchworkServer.start(tinyByteLm(), "127.0.0.1", 0, LIMITS);
        http = client();
    }

    @AfterAll
    static void stop() {
        blt.close();
        byteLm.close();
        http.close();
    }

    /** What BltGenerator itself gives: greedy, stopping at EOS, prompts up to the model's context. */
    static String bltGreedy(String prompt, int maxBytes) {
        BltBundle bundle = BltBundle.load(ModelDirectory.of(referenceTiny()), null);
        var settings = new BltGeneration.Settings(maxBytes, true, SamplingOptions.greedy(), bundle.model().config().maxEncoderSeqLength());
        byte[] bytes = bundle.generator(true).generate(prompt.getBytes(StandardCharsets.UTF_8), settings, BltGeneration.Listener.NONE).bytes();
        Utf8Stream u = new Utf8Stream();
        StringBuilder sb = new StringBuilder();
        for (byte b : bytes) sb.append(u.push(b));
        return sb.append(u.finish()).toString();
    }

    @Test
    void healthModelsAndPage() throws Exception {
        Reply h = get(http, blt, "/health");
        assertEquals(200, h.status());
        assertEquals("ok", h.json().get("status").asText());
        JsonNode m = get(http, blt, "/v1/models").json();
        assertEquals("list", m.get("object").asText());
        JsonNode d = m.get("data").get(0);
        assertEquals(blt.modelName(), d.get("id").asText());
        assertEquals("blt", d.get("kind").asText());
        assertTrue(d.get("parameters").asLong() > 0);
        assertEquals("byte_lm", get(http, byteLm, "/v1/models").json().get("data").get(0).get("kind").asText());
        Reply page = get(http, blt, "/");
        assertEquals(200, page.status());
        assertTrue(page.contentType().startsWith("text/html"), page.contentType());
        assertTrue(page.body().contains("/v1/patches") && page.body().contains("/v1/completions"));
        assertFalse(page.body().contains("https://"), "the page loads nothing from the network");
    }

    @Test
    void greedyCompletionEqualsTheGenerator() throws Exception {
        JsonNode r = post(http, blt, "/v1/completions", "{\"prompt\":\"Hello, world\",\"max_tokens\":40,\"temperature\":0}").json();
        String expected = bltGreedy("Hello, world", 40);
        JsonNode choice = r.get("choices").get(0);
        assertEquals(expected, choice.get("text").asText());
        assertEquals("text_completion", r.get("object").asText());
        JsonNode u = r.get("usage");
        assertEquals(12, u.get("prompt_bytes").asInt());
        assertEquals(u.get("completion_bytes").asInt(), u.get("completion_tokens").asInt());
        assertTrue(u.get("patches").asInt() >= 1);
        assertTrue(u.get("global_steps").asLong() >= 1);
        assertEquals(u.get("completion_bytes").asInt() == 40 ? "length" : "stop", choice.get("finish_reason").asText());
    }

    @Test
    void streamingSendsOneEventPerChunkThenDone() throws Exception {
        HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + blt.port() + "/v1/completions"))
                .POST(HttpRequest.BodyPublishers.ofString("{\"prompt\":\"Hello, world\",\"max_tokens\":40,\"temperature\":0,\"stream\":true}")).build();
        HttpResponse<java.util.stream.Stream<String>> r = http.send(req, HttpResponse.BodyHandlers.ofLines());
        assertEquals(200, r.statusCode());
        assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("text/event-stream"));
        List<String> events = events(r.body().toList());
        assertEquals("[DONE]", events.getLast());
        StringBuilder text = new StringBuilder();
        JsonNode last = null;
        for (String e : events.subList(0, events.size() - 1)) {
            last = Json.MAPPER.readTree(e);
            String t = last.get("choices").get(0).get("text").asText();
            assertEquals(t.length(), last.get("choices").get(0).get("patch_starts").size());
            text.append(t);
        }
        assertEquals(bltGreedy("Hello, world", 40), text.toString());
        assertNotNull(last.get("usage"));
        assertFalse(last.get("choices").get(0).get("finish_reason").isNull());
    }

    @Test
    void stopSequencesCutTheText() throws Exception {
        String full = bltGreedy("abc", 60);
        assertTrue(full.length() > 8, "the tiny model generated too little to test stops: " + full);
        String stop = full.substring(4, 6);
        String expected = full.substring(0, full.indexOf(stop));
        for (String stopJson : List.of(Json.write(stop), "[\"\\u0000never\", " + Json.write(stop) + "]")) {
            JsonNode r = post(http, blt, "/v1/completions", "{\"prompt\":\"abc\",\"max_tokens\":60,\"temperature\":0,\"stop\":" + stopJson + "}").json();
            assertEquals(expected, r.get("choices").get(0).get("text").asText());
            assertEquals("stop", r.get("choices").get(0).get("finish_reason").asText());
        }
    }

    @Test
    void patchesOfTheBltMatchItsEntropyModel() throws Exception {
        String text = "The quick brown fox";
        JsonNode r = post(http, blt, "/v1/patches", "{\"text\":" + Json.write(text) + "}").json();
        BltBundle bundle = BltBundle.load(ModelDirectory.of(referenceTiny()), null);
        int[] ids = ByteTokens.encode(text, true, false);
        float[] h = bundle.entropyModel().entropies(ids);
        assertEquals(ids.length, r.get("entropies").size());
        for (int i = 0; i < h.length; i++) assertEquals(h[i], r.get("entropies").get(i).floatValue(), 0f);
        int[] lengths = bundle.patching().build().patch(ids, h, false).lengths();
        assertEquals(lengths.length, r.get("num_patches").asInt());
        for (int i = 0; i < lengths.length; i++) assertEquals(lengths[i], r.get("patch_lengths").get(i).asInt());
        assertEquals(bundle.patching().threshold(), r.get("threshold").asDouble(), 0);
        // another threshold: everything a patch of its own at 0 nats
        JsonNode z = post(http, blt, "/v1/patches", "{\"text\":" + Json.write(text) + ",\"threshold\":0}").json();
        assertTrue(z.get("num_patches").asInt() > r.get("num_patches").asInt());
    }

    @Test
    void byteLmCompletesAndPatches() throws Exception {
        JsonNode r = post(http, byteLm, "/v1/completions", "{\"prompt\":\"Hi\",\"max_tokens\":20,\"temperature\":0.8,\"top_k\":10,\"top_p\":0.9,\"seed\":3}").json();
        JsonNode again = post(http, byteLm, "/v1/completions", "{\"prompt\":\"Hi\",\"max_tokens\":20,\"temperature\":0.8,\"top_k\":10,\"top_p\":0.9,\"seed\":3}").json();
        assertEquals(r.get("choices").get(0).get("text"), again.get("choices").get(0).get("text"), "same seed, same text");
        assertEquals(2, r.get("usage").get("prompt_bytes").asInt());
        JsonNode p = post(http, byteLm, "/v1/patches", "{\"text\":\"hello there\"}").json();
        assertEquals(12, p.get("entropies").size());
        int sum = 0;
        for (JsonNode l : p.get("patch_lengths")) sum += l.asInt();
        assertEquals(12, sum);
        float[] h = EntropyModel.load(tinyByteLm()).entropies(ByteTokens.encode("hello there", true, false));
        assertEquals(h[5], p.get("entropies").get(5).floatValue(), 0f);
    }

    static void assertError(Reply r, int status, String type) {
        assertEquals(status, r.status(), r.body());
        assertTrue(r.contentType().startsWith("application/json"), r.contentType());
        JsonNode e = r.json().get("error");
        assertNotNull(e, r.body());
        assertEquals(type, e.get("type").asText(), r.body());
        assertFalse(e.get("message").asText().isBlank());
    }

    @Test
    void everyErrorIsJsonWithTheRightStatus() throws Exception {
        assertError(get(http, blt, "/nope"), 404, "not_found");
        assertError(get(http, blt, "/v1/completions"), 405, "method_not_allowed");
        assertError(post(http, blt, "/health", "{}"), 405, "method_not_allowed");
        assertError(post(http, blt, "/v1/completions", "{\"prompt\": \"x\""), 400, "invalid_request_error");
        assertError(post(http, blt, "/v1/completions", "[1, 2]"), 400, "invalid_request_error");
        assertError(post(http, blt, "/v1/completions", ""), 400, "invalid_request_error");
        assertError(post(http, blt, "/v1/completions", "{}"), 400, "invalid_request_error");
        for (String bad : List.of("{\"prompt\": 3}", "{\"prompt\":\"x\",\"max_tokens\":\"many\"}", "{\"prompt\":\"x\",\"max_tokens\":1.5}",
                "{\"prompt\":\"x\",\"temperature\":\"hot\"}", "{\"prompt\":\"x\",\"temperature\":-1}", "{\"prompt\":\"x\",\"top_p\":0}",
                "{\"prompt\":\"x\",\"top_k\":-2}", "{\"prompt\":\"x\",\"seed\":\"s\"}", "{\"prompt\":\"x\",\"stop\":5}",
                "{\"prompt\":\"x\",\"stop\":[\"a\",1]}", "{\"prompt\":\"x\",\"stop\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}",
                "{\"prompt\":\"x\",\"stream\":\"yes\"}", "{\"prompt\":\"x\",\"max_tokens\":0}", "{\"prompt\":\"x\",\"max_tokens\":513}",
                "{\"prompt\":\"x\",\"frobnicate\":1}"))
            assertError(post(http, blt, "/v1/completions", bad), 400, "invalid_request_error");
        assertError(post(http, blt, "/v1/completions", "{\"prompt\":\"x\",\"model\":\"gpt-4\"}"), 404, "model_not_found");
        assertError(post(http, blt, "/v1/patches", "{\"text\": 1}"), 400, "invalid_request_error");
        assertError(post(http, blt, "/v1/patches", "{\"text\":\"a\",\"threshold\":-1}"), 400, "invalid_request_error");
        assertError(post(http, blt, "/v1/patches", "{}"), 400, "invalid_request_error");
        assertError(post(http, blt, "/v1/completions", "{\"prompt\":\"" + "a".repeat(5000) + "\"}"), 413, "request_too_large");
        assertError(post(http, blt, "/v1/completions", "{\"prompt\":\"" + "a".repeat(1025) + "\"}"), 413, "request_too_large");
        assertError(post(http, blt, "/v1/patches", "{\"text\":\"" + "é".repeat(600) + "\"}"), 413, "request_too_large");
        // still serving after all that
        assertEquals(200, get(http, blt, "/health").status());
    }
}

package dev.patchwork.serve;

import com.fasterxml.jackson.databind.JsonNode;
import dev.patchwork.util.Json;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** The tiny reference models, and a small HTTP client for the server tests (loopback only). */
final class ServerFixtures {
    private ServerFixtures() {}

    static Path referenceTiny() {
        try {
            return Path.of(ServerFixtures.class.getResource("/reference-tiny/config.json").toURI()).getParent();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** A tiny byte LM: the reference BLT's entropy model (random weights of a 2-layer LMTransformer). */
    static Path tinyByteLm() {
        return referenceTiny().resolve("entropy_model");
    }

    static HttpClient client() {
        return HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5)).build();
    }

    record Reply(int status, String contentType, String body) {
        JsonNode json() {
            try {
                return Json.MAPPER.readTree(body);
            } catch (IOException e) {
                throw new AssertionError("not JSON: " + body, e);
            }
        }
    }

    static Reply send(HttpClient c, PatchworkServer s, String method, String path, String body) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + s.port() + path)).timeout(Duration.ofSeconds(20));
        b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        HttpResponse<String> r = c.send(b.build(), HttpResponse.BodyHandlers.ofString());
        return new Reply(r.statusCode(), r.headers().firstValue("Content-Type").orElse(""), r.body());
    }

    static Reply post(HttpClient c, PatchworkServer s, String path, String body) throws Exception {
        return send(c, s, "POST", path, body);
    }

    static Reply get(HttpClient c, PatchworkServer s, String path) throws Exception {
        return send(c, s, "GET", path, null);
    }

    /** The {@code data:} payloads of a server-sent event stream, in order ("[DONE]" included). */
    static List<String> events(List<String> lines) {
        List<String> out = new ArrayList<>();
        for (String l : lines) if (l.startsWith("data: ")) out.add(l.substring("data: ".length()));
        return out;
    }
}

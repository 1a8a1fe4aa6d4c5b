package dev.patchwork.bench;

import dev.patchwork.serve.PatchworkServer;
import dev.patchwork.serve.ServerLimits;
import dev.patchwork.util.PatchworkException;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Latency of the HTTP server as a client sees it: a server on a free loopback port serves {@code model}, and
 * {@code requests} streamed completions are sent one after the other; for each, the time from sending the request to
 * reading its first server-sent event, and to {@code [DONE]}.
 */
public final class ServeLatencyBench {
    private ServeLatencyBench() {}

    public static Map<String, Object> run(Path model, int requests, int maxTokens) throws IOException, InterruptedException {
        if (requests < 2) throw new PatchworkException("--requests must be >= 2 (the first one warms up)");
        double[] first = new double[requests - 1], total = new double[requests - 1];
        String name;
        try (PatchworkServer server = PatchworkServer.start(model, "127.0.0.1", 0, ServerLimits.defaults());
             HttpClient http = HttpClient.newHttpClient()) {
            name = server.modelName();
            URI uri = URI.create("http://127.0.0.1:" + server.port() + "/v1/completions");
            for (int i = 0; i < requests; i++) {
                String body = "{\"prompt\":\"The first byte\",\"max_tokens\":" + maxTokens + ",\"stream\":true,\"seed\":" + i + "}";
                HttpRequest req = HttpRequest.newBuilder(uri).POST(HttpRequest.BodyPublishers.ofString(body)).build();
                long t0 = System.nanoTime();
                HttpResponse<InputStream> r = http.send(req, HttpResponse.BodyHandlers.ofInputStream());
                if (r.statusCode() != 200) throw new PatchworkException("the server answered " + r.statusCode() + " to a completion request");
                long firstEvent = -1;
                try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
                    String line;
                    while ((line = in.readLine()) != null) {
                        if (line.startsWith("data: ") && firstEvent < 0) firstEvent = System.nanoTime();
                        if (line.equals("data: [DONE]")) break;
                    }
                }
                long end = System.nanoTime();
                if (firstEvent < 0) throw new PatchworkException("the stream ended without an event");
                if (i > 0) { // request 0 warms up the JIT
                    first[i - 1] = (firstEvent - t0) / 1e6;
                    total[i - 1] = (end - t0) / 1e6;
                }
            }
        }
        Arrays.sort(first);
        Arrays.sort(total);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("benchmark", "serve");
        m.put("model", name);
        m.put("requests_timed", first.length);
        m.put("max_tokens", maxTokens);
        m.put("first_event_ms_median", first[first.length / 2]);
        m.put("first_event_ms_min", first[0]);
        m.put("first_event_ms_max", first[first.length - 1]);
        m.put("completion_ms_median", total[total.length / 2]);
        return m;
    }
}

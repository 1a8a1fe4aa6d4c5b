package dev.patchwork.serve;

import dev.patchwork.generate.ByteLmGenerator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import static dev.patchwork.serve.ServerFixtures.*;
import static org.junit.jupiter.api.Assertions.*;

/** Clients that leave mid-stream, and many streaming clients at once, over loopback. */
class ServerLoadTest {
    /** Names of the threads the server starts (the JDK's HTTP server names its dispatcher HTTP-Dispatcher). */
    static Set<String> serverThreads() {
        return Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive).map(Thread::getName)
                .filter(n -> n.startsWith("patchwork-http-") || n.startsWith("patchwork-gen-") || n.startsWith("HTTP-Dispatcher")
                        || n.startsWith("server-timer") || n.startsWith("idle-timeout"))
                .collect(Collectors.toSet());
    }

    static void awaitNoServerThreads(Set<String> before) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        Set<String> left = serverThreads();
        left.removeAll(before);
        while (!left.isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(20);
            left = serverThreads();
            left.removeAll(before);
        }
        assertEquals(Set.of(), left, "threads left running after close");
    }

    @Test
    @Timeout(30)
    void aClientThatLeavesMidStreamStopsTheGeneration() throws Exception {
        try (PatchworkServer server = PatchworkServer.start(referenceTiny(), "127.0.0.1", 0, new ServerLimits(4096, 1024, 100_000, 4))) {
            String body = "{\"prompt\":\"Once upon a time\",\"max_tokens\":100000,\"temperature\":0,\"stream\":true}";
            try (Socket s = new Socket(InetAddress.getLoopbackAddress(), server.port())) {
                OutputStream out = s.getOutputStream();
                out.write(("POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: "
                        + body.getBytes(StandardCharsets.UTF_8).length + "\r\n\r\n" + body).getBytes(StandardCharsets.UTF_8));
                out.flush();
                BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
                String line;
                while ((line = in.readLine()) != null && !line.contains("data: ")) { /* headers, chunk sizes */ }
                assertNotNull(line, "the stream ended before its first event");
            } // the client leaves here
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (server.lastGeneration() == null && System.nanoTime() < deadline) Thread.sleep(10);
            ServedModel.Generation g = server.lastGeneration();
            assertNotNull(g, "the generation did not stop within 10 s of the disconnect");
            assertEquals(ByteLmGenerator.Stop.LISTENER, g.reason());
            assertTrue(g.bytes().length < 100_000, "generated " + g.bytes().length);
            // and the worker is free again
            assertEquals(200, get(client(), server, "/health").status());
        }
    }

    /**
     * Time from sending a streamed request to reading its first event, on the tiny BLT (the issue asks for 200 ms on
     * an idle machine; asserted loosely because the test machine is shared, the figure is printed).
     */
    @Test
    @Timeout(30)
    void theFirstEventArrivesQuickly() throws Exception {
        try (PatchworkServer server = PatchworkServer.start(referenceTiny(), "127.0.0.1", 0, new ServerLimits(4096, 1024, 4096, 4));
             HttpClient http = client()) {
            long best = Long.MAX_VALUE;
            for (int i = 0; i < 5; i++) {
                HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/v1/completions"))
                        .POST(HttpRequest.BodyPublishers.ofString("{\"prompt\":\"The first byte\",\"max_tokens\":64,\"stream\":true,\"seed\":" + i + "}")).build();
                long t0 = System.nanoTime();
                HttpResponse<java.io.InputStream> r = http.send(req, HttpResponse.BodyHandlers.ofInputStream());
                try (BufferedReader in = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
                    String line;
                    while ((line = in.readLine()) != null && !line.startsWith("data: ")) { /* skip */ }
                    best = Math.min(best, System.nanoTime() - t0);
                    while (in.readLine() != null) { /* drain, so the next request finds the worker free */ }
                }
            }
            System.out.printf("first event after %.1f ms (best of 5)%n", best / 1e6);
            assertTrue(best < TimeUnit.SECONDS.toNanos(2), "first event after " + best / 1e6 + " ms");
        }
    }

    @Test
    @Timeout(60)
    void sixtyFourStreamingClientsCompleteOrGetA503AndNoThreadIsLeft() throws Exception {
        Set<String> before = serverThreads();
        long heapBefore = heapAfterGc();
        long start = System.nanoTime();
        int clients = 64;
        List<HttpResponse<String>> replies = new ArrayList<>();
        try (PatchworkServer server = PatchworkServer.start(referenceTiny(), "127.0.0.1", 0, new ServerLimits(4096, 1024, 64, 16));
             HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(10)).build()) {
            List<CompletableFuture<HttpResponse<String>>> futures = new ArrayList<>();
            for (int i = 0; i < clients; i++) {
                String body = "{\"prompt\":\"client " + i + "\",\"max_tokens\":32,\"temperature\":0.7,\"seed\":" + i + ",\"stream\":true}";
                HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + "/v1/completions"))
                        .timeout(Duration.ofSeconds(20)).POST(HttpRequest.BodyPublishers.ofString(body)).build();
                futures.add(http.sendAsync(req, HttpResponse.BodyHandlers.ofString()));
            }
            for (var f : futures) replies.add(f.get(20, TimeUnit.SECONDS));
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        int ok = 0, busy = 0;
        for (HttpResponse<String> r : replies) {
            if (r.statusCode() == 200) {
                ok++;
                List<String> events = events(r.body().lines().toList());
                assertEquals("[DONE]", events.getLast(), r.body());
                assertTrue(events.get(events.size() - 2).contains("\"usage\""), r.body());
            } else {
                assertEquals(503, r.statusCode(), r.body());
                assertTrue(r.body().contains("\"server_busy\""), r.body());
                busy++;
            }
        }
        assertEquals(clients, ok + busy);
        assertTrue(ok >= 1, "no client was served");
        assertTrue(seconds < 20, "took " + seconds + " s");
        awaitNoServerThreads(before);
        replies.clear();
        long heapAfter = heapAfterGc();
        // the server's model, caches and queues must be gone with it: at most a little JIT/class metadata remains
        assertTrue(heapAfter - heapBefore < 16L << 20, "heap grew by " + ((heapAfter - heapBefore) >> 20) + " MB after close()");
        System.out.printf("load: %d served, %d busy (503), %.2f s, heap %+d MB after close%n", ok, busy, seconds,
                (heapAfter - heapBefore) >> 20);
    }

    /** Used heap after a few full collections (bounded: at most 5 rounds). */
    private static long heapAfterGc() throws InterruptedException {
        Runtime rt = Runtime.getRuntime();
        long used = Long.MAX_VALUE;
        for (int i = 0; i < 5; i++) {
            System.gc();
            Thread.sleep(50);
            used = Math.min(used, rt.totalMemory() - rt.freeMemory());
        }
        return used;
    }
}

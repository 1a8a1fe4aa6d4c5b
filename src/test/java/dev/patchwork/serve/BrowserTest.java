package dev.patchwork.serve;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.patchwork.util.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

import static dev.patchwork.serve.ServerFixtures.referenceTiny;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The served page in a real browser: headless Chromium (Debian's {@code chromium}), driven over the Chrome DevTools
 * Protocol with the JDK's own HTTP and WebSocket clients, loads the page, types text, sees patch boundaries and the
 * entropy curve, clicks Continue, sees the continuation arrive in several pieces, and saves a screenshot to
 * {@code target/browser-test.png}. Everything stays on 127.0.0.1.
 */
class BrowserTest {
    static final Path CHROMIUM = Path.of("/usr/bin/chromium");
    static final String TYPED = "Patches are cut where the next byte is hard to guess.";

    @Test
    @Timeout(30)
    void pageShowsPatchesCurveAndStreamedText() throws Exception {
        assertTrue(Files.isExecutable(CHROMIUM), "no " + CHROMIUM + ": this test needs a real browser;"
                + " install Debian's chromium package (apt-get install chromium)");
        Path profile = Files.createTempDirectory("patchwork-chromium-");
        Process chromium = null;
        try (PatchworkServer server = PatchworkServer.start(referenceTiny(), "127.0.0.1", 0, new ServerLimits(4096, 1024, 512, 4));
             HttpClient http = ServerFixtures.client()) {
            chromium = launch(profile);
            int devtools = devToolsPort(profile, chromium);
            try (Cdp cdp = Cdp.connect(http, pageTarget(http, devtools))) {
                runScenario(cdp, "http://127.0.0.1:" + server.port() + "/");
            }
        } finally {
            if (chromium != null) stop(chromium);
            deleteTree(profile);
        }
    }

    private static void runScenario(Cdp cdp, String url) throws Exception {
        cdp.call("Page.enable", Json.MAPPER.createObjectNode());
        ObjectNode nav = Json.MAPPER.createObjectNode().put("url", url);
        JsonNode navigated = cdp.call("Page.navigate", nav);
        assertFalse(navigated.has("errorText"), () -> "navigation failed: " + navigated);
        waitFor(cdp, "document.readyState === 'complete' && !!document.getElementById('text')", "the page to load");

        // typing: set the value and fire the 'input' event the page listens to (it re-patches after a short debounce)
        cdp.eval("(() => { const t = document.getElementById('text'); t.value = " + Json.MAPPER.writeValueAsString(TYPED)
                + "; t.dispatchEvent(new Event('input', { bubbles: true })); return true; })()");
        String patchedShown = "document.getElementById('patched').textContent === document.getElementById('text').value"
                + " && document.querySelectorAll('#patched .patch').length >= 2"
                + " && !!document.querySelector('#curve polyline') && !!document.querySelector('#curve #threshold')";
        waitFor(cdp, patchedShown, "patch boundaries and the entropy curve of the typed text");
        int patches = cdp.eval("document.querySelectorAll('#patched .patch').length").asInt();
        int curvePoints = cdp.eval("document.querySelector('#curve polyline').points.numberOfItems").asInt();
        assertEquals(TYPED.length() + 1, curvePoints, "one curve point per position (BOS and every byte)");
        assertTrue(patches >= 2 && patches <= TYPED.length(), "patches: " + patches);

        // record how much generated text the page shows at each redraw, to see it arrive in pieces
        cdp.eval("(() => { window.genLengths = []; new MutationObserver(() => { let n = 0;"
                + " for (const g of document.querySelectorAll('#patched .gen')) n += g.textContent.length;"
                + " if (n > 0) window.genLengths.push(n); }).observe(document.getElementById('patched'), { childList: true });"
                + " document.getElementById('maxTokens').value = '120'; document.getElementById('temperature').value = '0';"
                + " document.getElementById('continue').click(); return true; })()");
        waitFor(cdp, "window.genLengths.length > 0 && !document.getElementById('continue').disabled"
                + " && document.getElementById('stats').textContent.includes('generated')", "the continuation to finish");

        String finalText = cdp.eval("document.getElementById('text').value").asText();
        JsonNode lengths = cdp.eval("window.genLengths");
        assertTrue(finalText.startsWith(TYPED) && finalText.length() > TYPED.length(), "no continuation: " + finalText);
        long distinct = Stream.iterate(0, i -> i + 1).limit(lengths.size()).map(i -> lengths.get(i).asInt()).distinct().count();
        assertTrue(distinct >= 2, "the continuation arrived in one piece, not streamed: " + lengths);
        for (int i = 1; i < lengths.size(); i++)
            assertTrue(lengths.get(i).asInt() >= lengths.get(i - 1).asInt(), "the streamed text shrank: " + lengths);
        assertEquals(finalText, cdp.eval("document.getElementById('patched').textContent").asText(),
                "after the stream the page re-patches prompt and continuation");
        assertEquals("", cdp.eval("document.getElementById('error').textContent").asText());

        JsonNode shot = cdp.call("Page.captureScreenshot", Json.MAPPER.createObjectNode().put("format", "png"));
        byte[] png = Base64.getDecoder().decode(shot.get("data").asText());
        assertTrue(png.length > 1000 && png[1] == 'P' && png[2] == 'N' && png[3] == 'G', "not a PNG screenshot");
        Files.createDirectories(Path.of("target"));
        Files.write(Path.of("target", "browser-test.png"), png);
    }

    /** Polls a JavaScript condition every 50 ms for at most 15 s. */
    private static void waitFor(Cdp cdp, String condition, String what) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        while (!cdp.eval("!!(" + condition + ")").asBoolean()) {
            if (System.nanoTime() > deadline) {
                String error = cdp.eval("(document.getElementById('error') || {}).textContent || ''").asText();
                fail("timed out waiting for " + what + (error.isEmpty() ? "" : "; the page says: " + error));
            }
            Thread.sleep(50);
        }
    }

    private static Process launch(Path profile) throws IOException {
        // a throwaway profile, nothing fetched from the network, DevTools on a free loopback port
        ProcessBuilder pb = new ProcessBuilder(CHROMIUM.toString(), "--headless", "--no-sandbox", "--disable-gpu",
                "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--window-size=1000,800", "--user-data-dir=" + profile, "--remote-debugging-port=0",
                "about:blank");
        // Chromium's log goes to a file: no pipe to drain, no reader thread
        pb.redirectErrorStream(true).redirectOutput(profile.resolve("chromium.log").toFile());
        return pb.start();
    }

    /** Chromium writes the port it chose as the first line of {@code DevToolsActivePort} in its profile. */
    private static int devToolsPort(Path profile, Process chromium) throws Exception {
        Path file = profile.resolve("DevToolsActivePort");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        while (System.nanoTime() < deadline) {
            if (!chromium.isAlive()) fail("chromium exited with " + chromium.exitValue() + ": " + log(profile));
            if (Files.exists(file)) {
                List<String> lines = Files.readAllLines(file);
                if (!lines.isEmpty() && !lines.getFirst().isBlank()) return Integer.parseInt(lines.getFirst().trim());
            }
            Thread.sleep(50);
        }
        return fail("chromium did not open its DevTools port within 15 s: " + log(profile));
    }

    private static String log(Path profile) {
        try {
            return Files.readString(profile.resolve("chromium.log"));
        } catch (IOException e) {
            return "(no log)";
        }
    }

    /** The WebSocket address of the page Chromium opened on about:blank. */
    private static URI pageTarget(HttpClient http, int devtools) throws Exception {
        HttpRequest req = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + devtools + "/json/list"))
                .timeout(Duration.ofSeconds(5)).build();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (System.nanoTime() < deadline) {
            JsonNode targets = Json.MAPPER.readTree(http.send(req, HttpResponse.BodyHandlers.ofString()).body());
            for (JsonNode t : targets)
                if ("page".equals(t.path("type").asText()) && t.has("webSocketDebuggerUrl"))
                    return URI.create(t.get("webSocketDebuggerUrl").asText());
            Thread.sleep(50);
        }
        return fail("chromium shows no page target");
    }

    /** Ends Chromium and every process it started (renderer, zygote, ...), forcibly if it does not go within 5 s. */
    private static void stop(Process chromium) throws InterruptedException {
        List<ProcessHandle> children = chromium.descendants().toList();
        chromium.destroy();
        if (!chromium.waitFor(5, TimeUnit.SECONDS)) chromium.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
        for (ProcessHandle c : children) if (c.isAlive()) c.destroyForcibly();
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // a leftover temporary profile is harmless
        }
    }

    /** A minimal Chrome DevTools Protocol client: one call at a time is enough, answers matched by id. */
    static final class Cdp implements WebSocket.Listener, AutoCloseable {
        private final AtomicInteger ids = new AtomicInteger();
        private final Map<Integer, CompletableFuture<JsonNode>> pending = new ConcurrentHashMap<>();
        private final StringBuilder message = new StringBuilder();
        private WebSocket socket;

        static Cdp connect(HttpClient http, URI target) throws Exception {
            Cdp cdp = new Cdp();
            cdp.socket = http.newWebSocketBuilder().connectTimeout(Duration.ofSeconds(5))
                    .buildAsync(target, cdp).get(10, TimeUnit.SECONDS);
            return cdp;
        }

        /** Sends a command and waits at most 15 s for its result; a protocol error fails the test. */
        JsonNode call(String method, ObjectNode params) throws Exception {
            int id = ids.incrementAndGet();
            CompletableFuture<JsonNode> answer = new CompletableFuture<>();
            pending.put(id, answer);
            ObjectNode msg = Json.MAPPER.createObjectNode().put("id", id).put("method", method);
            msg.set("params", params);
            socket.sendText(Json.MAPPER.writeValueAsString(msg), true).get(5, TimeUnit.SECONDS);
            JsonNode reply;
            try {
                reply = answer.get(15, TimeUnit.SECONDS);
            } catch (TimeoutException e) {
                return fail("no answer to " + method + " within 15 s");
            } finally {
                pending.remove(id);
            }
            if (reply.has("error")) fail(method + " failed: " + reply.get("error"));
            return reply.get("result");
        }

        /** Evaluates an expression in the page and returns its value (a thrown exception fails the test). */
        JsonNode eval(String expression) throws Exception {
            JsonNode r = call("Runtime.evaluate", Json.MAPPER.createObjectNode().put("expression", expression)
                    .put("returnByValue", true).put("awaitPromise", true));
            if (r.has("exceptionDetails")) fail("the page threw on " + expression + ": " + r.get("exceptionDetails"));
            return r.path("result").path("value");
        }

        @Override
        public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
            message.append(data);   // big answers (screenshots) come in several frames
            if (last) {
                try {
                    JsonNode m = Json.MAPPER.readTree(message.toString());
                    CompletableFuture<JsonNode> f = m.has("id") ? pending.get(m.get("id").asInt()) : null;
                    if (f != null) f.complete(m);   // events (no id) are not needed
                } catch (IOException e) {
                    pending.values().forEach(f -> f.completeExceptionally(e));
                }
                message.setLength(0);
            }
            ws.request(1);
            return null;
        }

        @Override
        public void onError(WebSocket ws, Throwable error) {
            pending.values().forEach(f -> f.completeExceptionally(error));
        }

        @Override
        public void close() {
            socket.abort();
        }
    }
}

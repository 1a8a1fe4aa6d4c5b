package dev.patchwork.serve;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectWriter;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.patchwork.generate.ByteLmGenerator;
import dev.patchwork.generate.Utf8Stream;
import dev.patchwork.util.Json;
import dev.patchwork.util.PatchworkException;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The HTTP server of {@code patchwork serve}, on the JDK's {@link HttpServer}: {@code GET /}, {@code GET /health},
 * {@code GET /v1/models}, {@code POST /v1/completions} (OpenAI shape, optionally streamed as server-sent events) and
 * {@code POST /v1/patches}.
 *
 * <p>Threads: a few HTTP threads ({@code patchwork-http-*}) read and check requests and answer the cheap routes;
 * everything that runs the model goes to <em>one</em> generation worker ({@code patchwork-gen-1}) through a bounded
 * queue, and a request that finds the queue full gets a 503 at once. One worker because the models are not
 * thread-safe (their activation buffers and the kernels' thread team are shared) and because one generation
 * already uses every core through the kernels: a second worker with its own model copy would double the memory and
 * not the speed. The worker writes the response itself, so HTTP threads never wait for the model.
 *
 * <p>A streamed generation writes and flushes one event per completed UTF-8 chunk; when a write fails (the client
 * went away) the generator's listener returns false and the worker moves on to the next request.
 */
public final class PatchworkServer implements AutoCloseable {
    /** HTTP threads: they only parse, check and hand over, so a few suffice. */
    private static final int HTTP_THREADS = 4;
    private static final ObjectWriter COMPACT = Json.MAPPER.writer().without(SerializationFeature.INDENT_OUTPUT);
    private static final Map<String, String> ROUTES = Map.of(
            "/", "GET", "/index.html", "GET", "/health", "GET", "/v1/models", "GET",
            "/v1/completions", "POST", "/v1/patches", "POST");

    private final ServedModel model;
    private final ServerLimits limits;
    private final HttpServer http;
    private final ExecutorService httpThreads;
    private final ThreadPoolExecutor generation;
    private final AtomicLong requestIds = new AtomicLong();
    private final AtomicLong completed = new AtomicLong();
    private volatile boolean closing;
    /** The latest finished generation, for tests that check a disconnect stopped the generator. */
    private volatile ServedModel.Generation lastGeneration;

    private PatchworkServer(ServedModel model, ServerLimits limits, HttpServer http) {
        this.model = model;
        this.limits = limits;
        this.http = http;
        httpThreads = Executors.newFixedThreadPool(HTTP_THREADS, named("patchwork-http-"));
        generation = new ThreadPoolExecutor(1, 1, 0, TimeUnit.SECONDS,
                new ArrayBlockingQueue<>(Math.max(1, limits.queue())), named("patchwork-gen-"));
        http.setExecutor(httpThreads);
        http.createContext("/", this::handle);
    }

    /** Loads the model in {@code modelDir} and starts serving it on {@code host:port} (port 0: any free port). */
    public static PatchworkServer start(java.nio.file.Path modelDir, String host, int port, ServerLimits limits) {
        return start(ServedModel.load(modelDir), host, port, limits);
    }

    static PatchworkServer start(ServedModel model, String host, int port, ServerLimits limits) {
        HttpServer http;
        try {
            http = HttpServer.create(new InetSocketAddress(host, port), 64);
        } catch (IOException e) {
            throw new PatchworkException("cannot listen on " + host + ":" + port + ": " + e.getMessage()
                    + " (is another server using the port? try --port with another number)");
        }
        PatchworkServer server = new PatchworkServer(model, limits, http);
        http.start();
        return server;
    }

    /** The port the server listens on (the one chosen when started with port 0). */
    public int port() {
        return http.getAddress().getPort();
    }

    ServedModel.Generation lastGeneration() {
        return lastGeneration;
    }

    public String modelName() {
        return model.name();
    }

    /** Stops listening, ends running generations at their next byte, and waits (bounded) for every thread to end. */
    @Override
    public void close() {
        closing = true;
        http.stop(0);
        generation.shutdownNow();
        httpThreads.shutdownNow();
        try {
            generation.awaitTermination(10, TimeUnit.SECONDS);
            httpThreads.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static ThreadFactory named(String prefix) {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, prefix + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }

    private void handle(HttpExchange ex) {
        try {
            String path = ex.getRequestURI().getPath();
            String method = ROUTES.get(path);
            if (method == null) throw new ApiException(404, "not_found", "no route " + path + " (routes: GET /, GET /health, GET /v1/models, POST /v1/completions, POST /v1/patches)");
            if (!method.equals(ex.getRequestMethod())) {
                ex.getResponseHeaders().set("Allow", method);
                throw new ApiException(405, "method_not_allowed", path + " takes " + method + ", not " + ex.getRequestMethod());
            }
            switch (path) {
                case "/", "/index.html" -> page(ex);
                case "/health" -> sendJson(ex, 200, health());
                case "/v1/models" -> sendJson(ex, 200, models());
                case "/v1/completions" -> completions(ex);
                case "/v1/patches" -> patches(ex);
                default -> throw new IllegalStateException(path);
            }
        } catch (ApiException e) {
            sendError(ex, e.status, e.type, e.getMessage());
        } catch (RuntimeException e) {
            sendError(ex, 500, "server_error", "internal error: " + e);
        }
    }

    private void page(HttpExchange ex) {
        try (InputStream in = PatchworkServer.class.getResourceAsStream("/web/index.html")) {
            if (in == null) throw new ApiException(500, "server_error", "the page web/index.html is missing from the jar");
            send(ex, 200, "text/html; charset=utf-8", in.readAllBytes());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private Map<String, Object> health() {
        Map<String, Object> o = new LinkedHashMap<>();
        o.put("status", "ok");
        o.put("model", model.name());
        o.put("queued", generation.getQueue().size());
        o.put("busy", generation.getActiveCount() > 0);
        o.put("completed", completed.get());
        return o;
    }

    private Map<String, Object> models() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", model.name());
        m.put("object", "model");
        m.put("created", 0);
        m.put("owned_by", "patchwork");
        m.put("kind", model.kind());
        m.put("parameters", model.parameters());
        m.put("context_bytes", model.contextIds() - 1);
        return Map.of("object", "list", "data", List.of(m));
    }

    private void completions(HttpExchange ex) {
        CompletionRequest req = CompletionRequest.parse(readJson(ex), limits, model.name());
        submit(ex, () -> {
            if (req.stream()) streamCompletion(ex, req);
            else sendJson(ex, 200, completion(req));
        });
    }

    private void patches(HttpExchange ex) {
        var f = new CompletionRequest.JsonFields(readJson(ex), Set.of("model", "text", "threshold"));
        String text = f.string("text", null);
        if (text == null) throw ApiException.badRequest("'text' is required: the text to patch");
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        if (bytes.length > limits.maxPromptBytes())
            throw new ApiException(413, "request_too_large", "'text' has " + bytes.length + " bytes; the limit is " + limits.maxPromptBytes());
        Double threshold = f.optionalNumber("threshold");
        if (threshold != null && !(threshold >= 0)) throw ApiException.badRequest("'threshold' must be >= 0 (nats), got " + threshold);
        submit(ex, () -> {
            ServedModel.Patching p = model.patch(bytes, threshold);
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("model", model.name());
            o.put("rule", p.rule());
            o.put("threshold", p.threshold());
            o.put("bytes", bytes.length);
            o.put("positions", bytes.length + 1);
            o.put("entropies", p.entropies());
            o.put("patch_lengths", p.patches().lengths());
            o.put("num_patches", p.patches().count());
            o.put("mean_patch_size", p.patches().meanPatchSize());
            sendJson(ex, 200, o);
        });
    }

    /** Hands model work to the generation worker; a full queue is a 503 now rather than a long wait. */
    private void submit(HttpExchange ex, Runnable work) {
        try {
            generation.execute(() -> {
                try {
                    work.run();
                } catch (ApiException e) {
                    sendError(ex, e.status, e.type, e.getMessage());
                } catch (RuntimeException e) {
                    sendError(ex, 500, "server_error", "internal error: " + e);
                } finally {
                    completed.incrementAndGet();
                    ex.close();
                }
            });
        } catch (RejectedExecutionException e) {
            ex.getResponseHeaders().set("Retry-After", "1");
            throw new ApiException(503, "server_busy", "the server is busy: " + limits.queue() + " requests already wait for the model; retry later");
        }
    }

    /** One generation, however it is delivered: the text released so far and what the model did. */
    private final class Run {
        final String id = "cmpl-" + requestIds.incrementAndGet();
        final long created = System.currentTimeMillis() / 1000;
        final Utf8Stream utf8 = new Utf8Stream();
        final StopSequences stops;
        /** Whether each pending UTF-16 unit opens a patch, until the stop filter releases it. */
        final ArrayDeque<Boolean> pendingStarts = new ArrayDeque<>();
        boolean byteStartsPatch;

        Run(CompletionRequest req) {
            stops = new StopSequences(req.stop());
        }

        /** Feeds a byte; returns the text it releases and marks in {@code starts} the units that open a patch. */
        String push(int b, boolean startsPatch, List<Boolean> starts) {
            byteStartsPatch |= startsPatch;
            String chars = utf8.push((byte) b);
            if (chars.isEmpty()) return "";
            for (int i = 0; i < chars.length(); i++) pendingStarts.add(i == 0 && byteStartsPatch);
            byteStartsPatch = false;
            return release(stops.push(chars), starts);
        }

        String finish(List<Boolean> starts) {
            String tail = utf8.finish();
            for (int i = 0; i < tail.length(); i++) pendingStarts.add(false);
            return release(stops.push(tail) + stops.finish(), starts);
        }

        private String release(String text, List<Boolean> starts) {
            for (int i = 0; i < text.length(); i++) starts.add(Boolean.TRUE.equals(pendingStarts.poll()));
            if (stops.stopped()) pendingStarts.clear();
            return text;
        }

        Map<String, Object> chunk(String text, List<Boolean> starts, String finishReason) {
            Map<String, Object> choice = new LinkedHashMap<>();
            choice.put("text", text);
            choice.put("index", 0);
            choice.put("logprobs", null);
            choice.put("finish_reason", finishReason);
            if (starts != null) choice.put("patch_starts", starts);
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("id", id);
            o.put("object", "text_completion");
            o.put("created", created);
            o.put("model", model.name());
            o.put("choices", List.of(choice));
            return o;
        }

        String finishReason(ServedModel.Generation g) {
            return stops.stopped() || g.reason() == ByteLmGenerator.Stop.EOS ? "stop" : "length";
        }
    }

    private static Map<String, Object> usage(ServedModel.Generation g) {
        Map<String, Object> u = new LinkedHashMap<>();
        u.put("prompt_tokens", g.promptBytes());
        u.put("completion_tokens", g.bytes().length);
        u.put("total_tokens", g.promptBytes() + g.bytes().length);
        u.put("prompt_bytes", g.promptBytes());
        u.put("completion_bytes", g.bytes().length);
        u.put("patches", g.patches());
        u.put("global_steps", g.globalSteps());
        return u;
    }

    private Map<String, Object> completion(CompletionRequest req) {
        Run run = new Run(req);
        StringBuilder text = new StringBuilder();
        List<Boolean> starts = new ArrayList<>();
        ServedModel.Generation g = model.generate(req.prompt(), req.maxTokens(), req.sampling(), (b, p) -> {
            text.append(run.push(b, p, starts));
            return !run.stops.stopped() && !closing;
        });
        lastGeneration = g;
        text.append(run.finish(starts));
        Map<String, Object> o = run.chunk(text.toString(), starts, run.finishReason(g));
        o.put("usage", usage(g));
        return o;
    }

    /** Server-sent events: one {@code data:} event per released chunk of text, a last one with the usage, then [DONE]. */
    private void streamCompletion(HttpExchange ex, CompletionRequest req) {
        ex.getResponseHeaders().set("Content-Type", "text/event-stream; charset=utf-8");
        ex.getResponseHeaders().set("Cache-Control", "no-cache");
        OutputStream out;
        try {
            ex.sendResponseHeaders(200, 0);
            out = ex.getResponseBody();
        } catch (IOException e) {
            return; // the client left while queued
        }
        Run run = new Run(req);
        boolean[] alive = {true};
        ServedModel.Generation g = model.generate(req.prompt(), req.maxTokens(), req.sampling(), (b, p) -> {
            List<Boolean> starts = new ArrayList<>();
            String text = run.push(b, p, starts);
            if (!text.isEmpty()) alive[0] = event(out, run.chunk(text, starts, null));
            return alive[0] && !run.stops.stopped() && !closing;
        });
        lastGeneration = g;
        if (!alive[0] || closing) return;
        List<Boolean> starts = new ArrayList<>();
        String tail = run.finish(starts);
        Map<String, Object> last = run.chunk(tail, starts, run.finishReason(g));
        last.put("usage", usage(g));
        if (event(out, last)) write(out, "data: [DONE]\n\n");
    }

    /** Writes one event and flushes it to the client; false when the client is gone. */
    private static boolean event(OutputStream out, Object payload) {
        try {
            return write(out, "data: " + COMPACT.writeValueAsString(payload) + "\n\n");
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    private static boolean write(OutputStream out, String s) {
        try {
            out.write(s.getBytes(StandardCharsets.UTF_8));
            out.flush();
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** The body as JSON: 413 past the size limit, 400 when it does not parse. */
    private JsonNode readJson(HttpExchange ex) {
        String length = ex.getRequestHeaders().getFirst("Content-Length");
        if (length != null) {
            long n;
            try {
                n = Long.parseLong(length.trim());
            } catch (NumberFormatException e) {
                throw ApiException.badRequest("bad Content-Length: " + length);
            }
            if (n > limits.maxBodyBytes()) throw tooLarge(n);
        }
        byte[] body;
        try (InputStream in = ex.getRequestBody()) {
            body = in.readNBytes(limits.maxBodyBytes() + 1);
        } catch (IOException e) {
            throw ApiException.badRequest("cannot read the body: " + e.getMessage());
        }
        if (body.length > limits.maxBodyBytes()) throw tooLarge(body.length);
        if (body.length == 0) throw ApiException.badRequest("the body is empty: send a JSON object");
        try {
            return Json.MAPPER.readTree(body);
        } catch (IOException e) {
            String msg = e instanceof JsonProcessingException j ? j.getOriginalMessage() : e.getMessage();
            throw ApiException.badRequest("the body is not valid JSON: " + msg.lines().findFirst().orElse(""));
        }
    }

    private ApiException tooLarge(long n) {
        return new ApiException(413, "request_too_large", "the body has " + n + (n > limits.maxBodyBytes() ? "+" : "") + " bytes; the limit is " + limits.maxBodyBytes());
    }

    private static void sendError(HttpExchange ex, int status, String type, String message) {
        Map<String, Object> err = new LinkedHashMap<>();
        err.put("message", message);
        err.put("type", type);
        sendJson(ex, status, Map.of("error", err));
    }

    private static void sendJson(HttpExchange ex, int status, Object body) {
        try {
            send(ex, status, "application/json", COMPACT.writeValueAsBytes(body));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Sends a whole response; a client that already left is no error of ours. */
    private static void send(HttpExchange ex, int status, String contentType, byte[] body) {
        try {
            ex.getResponseHeaders().set("Content-Type", contentType);
            ex.sendResponseHeaders(status, body.length);
            try (OutputStream out = ex.getResponseBody()) {
                out.write(body);
            }
        } catch (IOException ignored) {
            // the client disconnected
        } finally {
            ex.close();
        }
    }
}

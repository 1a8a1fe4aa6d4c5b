package dev.patchwork.cli;

import dev.patchwork.serve.PatchworkServer;
import dev.patchwork.serve.ServerLimits;
import dev.patchwork.util.PatchworkException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

/** {@code patchwork serve}: the HTTP server (OpenAI-style completions, patches, and the patch viewer page). */
@Command(name = "serve", mixinStandardHelpOptions = true, description = "Serve a model (byte LM or BLT) over HTTP, with a page that shows its patches.",
        footer = {"", "Routes: GET / (the page), GET /health, GET /v1/models, POST /v1/completions, POST /v1/patches.",
                "", "Examples:", "  patchwork serve --model runs/blt",
                "  curl -s localhost:8080/v1/completions -d '{\"prompt\":\"ROMEO:\",\"max_tokens\":64,\"temperature\":0}'"})
final class ServeCommand implements Callable<Integer> {
    @Option(names = "--model", required = true, paramLabel = "DIR", description = "The model: a run directory, a hub/consolidated/HF checkpoint (byte LM or BLT).")
    Path model;
    @Option(names = "--port", defaultValue = "8080", description = "Port (0: any free one). Default: ${DEFAULT-VALUE}.")
    int port;
    @Option(names = "--host", defaultValue = "127.0.0.1", description = "Address to bind; 0.0.0.0 exposes the server to the network. Default: ${DEFAULT-VALUE}.")
    String host;
    @Option(names = "--max-tokens", defaultValue = "4096", description = "Largest max_tokens (bytes) a request may ask. Default: ${DEFAULT-VALUE}.")
    int maxTokens;
    @Option(names = "--max-prompt-bytes", defaultValue = "65536", description = "Largest prompt (or text to patch), UTF-8 bytes. Default: ${DEFAULT-VALUE}.")
    int maxPromptBytes;
    @Option(names = "--max-body-bytes", defaultValue = "1048576", description = "Largest request body. Default: ${DEFAULT-VALUE}.")
    int maxBodyBytes;
    @Option(names = "--queue", defaultValue = "16", description = "Requests that may wait for the model; more get 503. Default: ${DEFAULT-VALUE}.")
    int queue;

    @Override
    public Integer call() throws InterruptedException {
        if (port < 0 || port > 65535) throw new PatchworkException("--port must be in 0..65535, got " + port);
        ServerLimits limits = new ServerLimits(maxBodyBytes, maxPromptBytes, maxTokens, queue);
        PatchworkServer server = PatchworkServer.start(model, host, port, limits);
        Runtime.getRuntime().addShutdownHook(new Thread(server::close, "patchwork-serve-shutdown"));
        String shown = host.contains(":") ? "[" + host + "]" : host;
        System.out.printf("serving %s on http://%s:%d/ (Ctrl-C to stop)%n", server.modelName(), shown, server.port());
        new CountDownLatch(1).await(); // until the process is stopped
        return 0;
    }
}

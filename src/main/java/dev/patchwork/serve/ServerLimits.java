package dev.patchwork.serve;

/**
 * What one request may ask of the server.
 *
 * @param maxBodyBytes   largest request body (413 beyond)
 * @param maxPromptBytes largest prompt or text to patch, in UTF-8 bytes (413 beyond)
 * @param maxTokens      largest {@code max_tokens} (bytes to generate; 400 beyond)
 * @param queue          requests that may wait for the generation worker; more get 503
 */
public record ServerLimits(int maxBodyBytes, int maxPromptBytes, int maxTokens, int queue) {
    public ServerLimits {
        if (maxBodyBytes < 1) throw new IllegalArgumentException("max body bytes must be >= 1, got " + maxBodyBytes);
        if (maxPromptBytes < 1) throw new IllegalArgumentException("max prompt bytes must be >= 1, got " + maxPromptBytes);
        if (maxTokens < 1) throw new IllegalArgumentException("max tokens must be >= 1, got " + maxTokens);
        if (queue < 0) throw new IllegalArgumentException("queue must be >= 0, got " + queue);
    }

    public static ServerLimits defaults() {
        return new ServerLimits(1 << 20, 64 << 10, 4096, 16);
    }
}

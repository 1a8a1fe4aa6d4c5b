package dev.patchwork.serve;

/** A request the server refuses: its HTTP status, the OpenAI-style error type, and a one-line message. */
final class ApiException extends RuntimeException {
    final int status;
    final String type;

    ApiException(int status, String type, String message) {
        super(message);
        this.status = status;
        this.type = type;
    }

    static ApiException badRequest(String message) {
        return new ApiException(400, "invalid_request_error", message);
    }
}

package dev.patchwork.data;

/**
 * Bad corpus input: a missing path, an empty corpus, a malformed JSONL line, a corpus too small for the requested
 * windows. It extends {@link IllegalArgumentException} so callers that report bad arguments handle it the same way;
 * the message says what is wrong and how to fix it, on one line.
 */
public final class DataException extends IllegalArgumentException {
    public DataException(String message) {
        super(message);
    }

    public DataException(String message, Throwable cause) {
        super(message, cause);
    }
}

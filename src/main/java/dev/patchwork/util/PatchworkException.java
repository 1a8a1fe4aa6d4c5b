package dev.patchwork.util;

/**
 * A problem the user can fix (bad flag, missing file, invalid config, corrupt checkpoint). The CLI prints its message
 * as one line and exits non-zero, without a stack trace; so the message must say what is wrong and how to fix it.
 */
public class PatchworkException extends RuntimeException {
    public PatchworkException(String message) {
        super(message);
    }

    public PatchworkException(String message, Throwable cause) {
        super(message, cause);
    }
}

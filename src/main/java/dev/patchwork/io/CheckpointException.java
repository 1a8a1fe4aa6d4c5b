package dev.patchwork.io;

import java.nio.file.Path;

/**
 * A checkpoint or tensor file that cannot be used: missing, truncated, corrupt, or not matching the model.
 *
 * <p>The message is one line that names the file and the problem, so a command-line tool can print it as it is;
 * the underlying I/O or JSON exception, if any, is kept as the cause for debugging.
 */
public class CheckpointException extends dev.patchwork.util.PatchworkException {
    private final Path file;

    public CheckpointException(Path file, String problem) {
        super(oneLine(file + ": " + problem));
        this.file = file;
    }

    public CheckpointException(Path file, String problem, Throwable cause) {
        super(oneLine(file + ": " + problem), cause);
        this.file = file;
    }

    /** Tensor names come from the file and may hold any character: escape control characters to keep one line. */
    private static String oneLine(String message) {
        StringBuilder sb = new StringBuilder(message.length());
        message.chars().forEach(c -> {
            if (Character.isISOControl(c)) sb.append(String.format("\\u%04x", c));
            else sb.append((char) c);
        });
        return sb.toString();
    }

    /** The file or directory the problem is about. */
    public Path file() {
        return file;
    }
}

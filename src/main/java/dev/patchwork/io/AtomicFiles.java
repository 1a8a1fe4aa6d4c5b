package dev.patchwork.io;

import java.io.BufferedOutputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Writes files and whole directories so that a crash (or an exception in the writer) never leaves a half-written
 * result under the target name: readers see either the complete old content or the complete new content.
 *
 * <p>Files: the content goes to {@code name.tmp-XXXXXXXX} in the same directory (a rename is only atomic within one
 * file system), is forced to disk, then renamed over the target; the directory is then forced so the rename itself
 * survives a power loss.
 *
 * <p>Directories (checkpoints): the new directory is built as {@code name.tmp-XXXXXXXX} beside the target and forced to
 * disk; then the old target is renamed to {@code name.old-XXXXXXXX} (same suffix), the new one renamed in, and the old
 * one deleted. POSIX cannot atomically swap two non-empty directories, so there is a moment with no directory under
 * the target name; {@link #recoverDirectory} repairs that state after a crash (the matching suffix proves the
 * {@code .tmp-} directory was complete), and every commit runs it first.
 *
 * <p>One writer per target at a time: a concurrent commit to the same target could see the other's temporary
 * directory as a crash leftover and delete it.
 */
public final class AtomicFiles {
    /** Writes the content of a file to a stream; the stream is closed by {@link AtomicFiles}, not by the writer. */
    @FunctionalInterface
    public interface StreamWriter {
        void write(OutputStream out) throws IOException;
    }

    /** Writes the content of a file through a channel (for large buffers and positioned writes). */
    @FunctionalInterface
    public interface ChannelWriter {
        void write(FileChannel channel) throws IOException;
    }

    /** Fills an empty directory with the files of a checkpoint. */
    @FunctionalInterface
    public interface DirectoryWriter {
        void write(Path directory) throws IOException;
    }

    private static final String TMP = ".tmp-";
    private static final String OLD = ".old-";
    private static final int SUFFIX_BYTES = 4; // 8 hex digits

    private AtomicFiles() {}

    public static void write(Path target, byte[] bytes) throws IOException {
        writeChannel(target, ch -> writeFully(ch, ByteBuffer.wrap(bytes)));
    }

    /** Writes {@code text} as UTF-8. */
    public static void writeString(Path target, String text) throws IOException {
        write(target, text.getBytes(StandardCharsets.UTF_8));
    }

    /** Writes through a buffered stream; closing it inside the writer only flushes. */
    public static void writeStream(Path target, StreamWriter writer) throws IOException {
        writeChannel(target, ch -> {
            OutputStream buffered = new BufferedOutputStream(Channels.newOutputStream(ch), 1 << 16);
            writer.write(new NonClosingOutputStream(buffered));
            buffered.flush();
        });
    }

    /** Writes through a channel positioned at 0 of an empty temporary file. */
    public static void writeChannel(Path target, ChannelWriter writer) throws IOException {
        Path parent = parentOf(target);
        Files.createDirectories(parent);
        String name = target.getFileName().toString();
        Path tmp = null;
        FileChannel ch = null;
        // CREATE_NEW with a random name instead of Files.createTempFile: the latter makes files readable by the
        // owner only, and the renamed file would keep those permissions.
        while (ch == null) {
            tmp = parent.resolve(name + TMP + randomSuffix());
            try {
                ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
            } catch (FileAlreadyExistsException retry) {
                // another suffix
            }
        }
        try {
            try (FileChannel c = ch) {
                writer.write(c);
                c.force(true);
            }
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (Throwable t) {
            deleteQuietly(tmp, t);
            throw t;
        }
        syncDirectory(parent);
    }

    /**
     * Builds a directory with {@code writer} and puts it in place of {@code target} (which may or may not exist).
     * If the writer throws, the old target is untouched and the temporary directory is removed.
     */
    public static void commitDirectory(Path target, DirectoryWriter writer) throws IOException {
        Path parent = parentOf(target);
        Files.createDirectories(parent);
        recoverDirectory(target);
        String name = target.getFileName().toString();
        String suffix;
        Path tmp;
        while (true) {
            suffix = randomSuffix();
            tmp = parent.resolve(name + TMP + suffix);
            try {
                Files.createDirectory(tmp);
                break;
            } catch (FileAlreadyExistsException retry) {
                // another suffix
            }
        }
        try {
            writer.write(tmp);
            syncTree(tmp);
        } catch (Throwable t) {
            deleteQuietly(tmp, t);
            throw t;
        }
        if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
            Path old = parent.resolve(name + OLD + suffix);
            Files.move(target, old, StandardCopyOption.ATOMIC_MOVE);
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            syncDirectory(parent);
            deleteTree(old);
        } else {
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            syncDirectory(parent);
        }
    }

    /**
     * Repairs what a crash during {@link #commitDirectory} left beside {@code target}. If the target is missing and a
     * {@code .old-X}/{@code .tmp-X} pair exists, the crash hit between the two renames and {@code .tmp-X} is complete,
     * so it is renamed in; if only a {@code .old-X} exists, it is the last complete copy and is renamed back. Remaining
     * {@code .tmp-} (unfinished) and {@code .old-} (superseded) siblings are deleted.
     *
     * @return true if the target was restored from a leftover
     */
    public static boolean recoverDirectory(Path target) throws IOException {
        Path parent = parentOf(target);
        if (!Files.isDirectory(parent)) return false;
        String name = target.getFileName().toString();
        Pattern leftover = Pattern.compile(Pattern.quote(name) + "\\.(tmp|old)-([0-9a-f]{" + 2 * SUFFIX_BYTES + "})");
        List<Path> tmps = new ArrayList<>();
        List<Path> olds = new ArrayList<>();
        try (Stream<Path> siblings = Files.list(parent)) {
            for (Path p : (Iterable<Path>) siblings::iterator) {
                Matcher m = leftover.matcher(p.getFileName().toString());
                if (m.matches() && Files.isDirectory(p)) (m.group(1).equals("tmp") ? tmps : olds).add(p);
            }
        }
        boolean restored = false;
        if (!Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
            Path source = null;
            for (Path old : olds) {
                Path pair = parent.resolve(old.getFileName().toString().replace(name + OLD, name + TMP));
                if (tmps.contains(pair)) source = pair;
            }
            if (source == null && !olds.isEmpty())
                source = olds.stream().max(Comparator.comparing(AtomicFiles::modifiedTime)).orElseThrow();
            if (source != null) {
                Files.move(source, target, StandardCopyOption.ATOMIC_MOVE);
                syncDirectory(parent);
                tmps.remove(source);
                olds.remove(source);
                restored = true;
            }
        }
        for (Path p : tmps) deleteTree(p);
        for (Path p : olds) deleteTree(p);
        return restored;
    }

    private static long modifiedTime(Path p) {
        try {
            return Files.getLastModifiedTime(p).toMillis();
        } catch (IOException e) {
            return Long.MIN_VALUE;
        }
    }

    private static Path parentOf(Path target) {
        Path abs = target.toAbsolutePath();
        if (abs.getParent() == null || abs.getFileName() == null)
            throw new IllegalArgumentException("cannot write atomically to " + target + ": it has no parent directory");
        return abs.getParent();
    }

    private static String randomSuffix() {
        byte[] b = new byte[SUFFIX_BYTES];
        ThreadLocalRandom.current().nextBytes(b);
        return HexFormat.of().formatHex(b);
    }

    private static void writeFully(FileChannel ch, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) ch.write(buf);
    }

    /** Forces a directory's entries (new names, renames) to disk. */
    static void syncDirectory(Path dir) throws IOException {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException e) {
            // Some platforms (Windows) cannot open a directory as a channel; there the rename is all we can do.
            if (Files.isDirectory(dir) && System.getProperty("os.name", "").startsWith("Windows")) return;
            throw e;
        }
    }

    /** Forces every file and directory below {@code root} to disk: the writer may not have forced its files. */
    private static void syncTree(Path root) throws IOException {
        List<Path> all;
        try (Stream<Path> walk = Files.walk(root)) {
            all = walk.toList();
        }
        for (Path p : all) {
            if (Files.isDirectory(p)) {
                syncDirectory(p);
            } else if (Files.isRegularFile(p)) {
                try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
                    ch.force(true);
                }
            }
        }
    }

    static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root, LinkOption.NOFOLLOW_LINKS)) return;
        List<Path> all;
        try (Stream<Path> walk = Files.walk(root)) {
            all = new ArrayList<>(walk.toList());
        }
        all.sort(Comparator.reverseOrder()); // children before their parents
        for (Path p : all) Files.deleteIfExists(p);
    }

    /** Cleans up after a failure without hiding it: a failed cleanup is attached to the original problem. */
    private static void deleteQuietly(Path p, Throwable original) {
        try {
            deleteTree(p);
        } catch (IOException | RuntimeException e) {
            original.addSuppressed(e);
        }
    }

    /** Lets writers close "their" stream (e.g. try-with-resources) without closing the channel underneath. */
    private static final class NonClosingOutputStream extends FilterOutputStream {
        NonClosingOutputStream(OutputStream out) {
            super(out);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
        }

        @Override
        public void close() throws IOException {
            flush();
        }
    }
}

package dev.patchwork.data;

import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.FileSystemLoopException;
import java.nio.file.FileVisitOption;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;
import java.util.zip.ZipInputStream;

/**
 * Where a corpus comes from, read as a sequence of documents (byte streams), always in the same order:
 * <ul>
 *   <li>a plain file is one document: its raw bytes, whatever they are (not necessarily UTF-8);</li>
 *   <li>a directory is every regular file below it, recursively, in sorted relative-path order, each handled by its
 *       extension as below; hidden files and directories (name starting with {@code .}) are skipped;</li>
 *   <li>{@code .zip}: each file entry is a document, in entry-name order;</li>
 *   <li>{@code .gz}: the decompressed content, handled by the name without {@code .gz}
 *       (so {@code x.jsonl.gz} is JSONL);</li>
 *   <li>{@code .jsonl}: each non-blank line is a JSON object whose string field {@code text} is one document
 *       (its UTF-8 bytes).</li>
 * </ul>
 * Nothing is held in memory beyond one document at a time (and one JSONL line).
 */
public final class CorpusSource {
    /** Receives one document; {@code content} is valid only during the call and need not be closed. */
    @FunctionalInterface
    public interface DocumentSink {
        void accept(String name, InputStream content) throws IOException;
    }

    private final Path path;
    private final CorpusOptions options;

    private CorpusSource(Path path, CorpusOptions options) {
        this.path = path.toAbsolutePath().normalize();
        this.options = options;
    }

    /** Every document under {@code path}. */
    public static CorpusSource of(Path path) {
        return of(path, CorpusOptions.ALL);
    }

    public static CorpusSource of(Path path, CorpusOptions options) {
        return new CorpusSource(path, options);
    }

    /** Absolute, normalised path of the file or directory. */
    public Path path() {
        return path;
    }

    public CorpusOptions options() {
        return options;
    }

    /** Path and options: what identifies this corpus in a cache. */
    public String description() {
        return path + options.describe();
    }

    @Override
    public String toString() {
        return description();
    }

    /**
     * The files this corpus reads (containers included), in reading order: {@code [path]} for a file.
     *
     * @throws DataException if the path does not exist
     */
    public List<Path> files() {
        if (!Files.exists(path))
            throw new DataException("corpus source " + path + " does not exist: give an existing file or directory");
        if (!Files.isDirectory(path)) return List.of(path);
        List<Path> found = new ArrayList<>();
        try {
            Files.walkFileTree(path, EnumSet.of(FileVisitOption.FOLLOW_LINKS), Integer.MAX_VALUE,
                    new SimpleFileVisitor<>() {
                        @Override
                        public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) {
                            return !dir.equals(path) && isHidden(dir) ? FileVisitResult.SKIP_SUBTREE
                                    : FileVisitResult.CONTINUE;
                        }

                        @Override
                        public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
                            String name = file.getFileName().toString();
                            if (attrs.isRegularFile() && !isHidden(file)
                                    && !name.endsWith(CorpusFileFormat.EXTENSION) // a cache kept inside the corpus
                                    && (isContainer(name) || options.accepts(name))) {
                                found.add(file);
                            }
                            return FileVisitResult.CONTINUE;
                        }

                        @Override
                        public FileVisitResult visitFileFailed(Path file, IOException e) throws IOException {
                            if (e instanceof FileSystemLoopException) return FileVisitResult.CONTINUE; // symlink cycle
                            throw e;
                        }
                    });
        } catch (IOException e) {
            throw new UncheckedIOException("listing corpus directory " + path + ": " + e.getMessage(), e);
        }
        found.sort(Comparator.comparing(this::relativeName));
        return found;
    }

    /**
     * SHA-256 of the description and of every file's relative name, size and modification time: it changes when a
     * file is added, removed, resized or touched, without reading any content (a corpus can be many gigabytes).
     * An edit that keeps both the size and the modification time is not seen, as with make or rsync.
     */
    public byte[] fingerprint() {
        MessageDigest sha;
        try {
            sha = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK lacks SHA-256", e);
        }
        try (DataOutputStream out = new DataOutputStream(new DigestOutputStream(OutputStream.nullOutputStream(), sha))) {
            out.writeUTF(description());
            for (Path f : files()) {
                BasicFileAttributes a = Files.readAttributes(f, BasicFileAttributes.class);
                out.writeUTF(relativeName(f));
                out.writeLong(a.size());
                out.writeLong(a.lastModifiedTime().to(TimeUnit.NANOSECONDS));
            }
        } catch (IOException e) {
            throw new UncheckedIOException("reading file attributes of corpus " + path + ": " + e.getMessage(), e);
        }
        return sha.digest();
    }

    /** Calls {@code sink} for every document, in order. */
    public void forEachDocument(DocumentSink sink) throws IOException {
        for (Path f : files()) {
            String name = relativeName(f);
            try {
                if (lower(name).endsWith(".zip")) {
                    readZipFile(f, name, sink);
                } else {
                    try (InputStream in = Files.newInputStream(f)) {
                        readStream(in, name, sink);
                    }
                }
            } catch (ZipException e) {
                throw new DataException("corpus file " + f + " is not a valid zip/gzip archive (" + e.getMessage()
                        + "): repair it or remove it from the corpus", e);
            }
        }
    }

    /** Entries of a zip on disk, sorted by name so the order does not depend on how the archive was written. */
    private void readZipFile(Path file, String name, DocumentSink sink) throws IOException {
        try (ZipFile zip = new ZipFile(file.toFile())) {
            List<? extends ZipEntry> entries = zip.stream()
                    .filter(e -> !e.isDirectory() && !isHiddenEntry(e.getName()))
                    .sorted(Comparator.comparing(ZipEntry::getName))
                    .toList();
            for (ZipEntry e : entries) {
                try (InputStream in = zip.getInputStream(e)) {
                    readStream(in, name + "!/" + e.getName(), sink);
                }
            }
        }
    }

    /** Dispatches a stream by the extension of {@code name}. */
    private void readStream(InputStream in, String name, DocumentSink sink) throws IOException {
        String lower = lower(name);
        if (lower.endsWith(".tar") || lower.endsWith(".tgz") || lower.endsWith(".tar.gz")) {
            throw new DataException("corpus file " + name + " is a tar archive, which is not supported: extract it into "
                    + "a directory or repack it as .zip");
        } else if (lower.endsWith(".gz")) {
            readStream(new GZIPInputStream(in, 1 << 16), name.substring(0, name.length() - 3), sink);
        } else if (lower.endsWith(".jsonl")) {
            JsonlDocuments.read(in, name, sink);
        } else if (lower.endsWith(".zip")) {
            readZipStream(in, name, sink);
        } else if (options.accepts(name)) {
            sink.accept(name, in);
        }
    }

    /** A zip inside a zip or a .gz cannot be opened at random, so its entries come in stored order (still fixed). */
    private void readZipStream(InputStream in, String name, DocumentSink sink) throws IOException {
        ZipInputStream zin = new ZipInputStream(in);
        for (ZipEntry e; (e = zin.getNextEntry()) != null; ) {
            if (!e.isDirectory() && !isHiddenEntry(e.getName())) readStream(zin, name + "!/" + e.getName(), sink);
        }
    }

    /** Name of a file relative to the source, with {@code /} separators; the file name for a single-file source. */
    private String relativeName(Path file) {
        if (file.equals(path)) return file.getFileName() == null ? file.toString() : file.getFileName().toString();
        return path.relativize(file).toString().replace(file.getFileSystem().getSeparator(), "/");
    }

    private static boolean isContainer(String name) {
        String lower = lower(name);
        return lower.endsWith(".zip") || lower.endsWith(".gz") || lower.endsWith(".jsonl") || lower.endsWith(".tar")
                || lower.endsWith(".tgz");
    }

    private static boolean isHidden(Path p) {
        return p.getFileName() != null && p.getFileName().toString().startsWith(".");
    }

    /** An entry with a hidden component ({@code .git/x}, {@code __MACOSX/.DS_Store}); {@code ./x} is not hidden. */
    private static boolean isHiddenEntry(String entryName) {
        for (String part : entryName.split("/"))
            if (part.startsWith(".") && !part.equals(".") && !part.equals("..")) return true;
        return false;
    }

    private static String lower(String s) {
        return s.toLowerCase(Locale.ROOT);
    }
}

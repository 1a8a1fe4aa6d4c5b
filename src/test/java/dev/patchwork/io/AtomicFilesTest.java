package dev.patchwork.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AtomicFilesTest {
    @TempDir
    Path dir;

    private List<String> listing() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void everyWriterKindProducesTheContentAndNoTemporaryFiles() throws IOException {
        AtomicFiles.write(dir.resolve("a.bin"), new byte[]{1, 2, 3});
        AtomicFiles.writeString(dir.resolve("b.txt"), "héllo");
        AtomicFiles.writeStream(dir.resolve("c.txt"), out -> {
            try (OutputStream o = out) { // a writer closing "its" stream must not break the commit
                o.write("streamed".getBytes(StandardCharsets.UTF_8));
            }
        });
        AtomicFiles.writeChannel(dir.resolve("d.bin"), ch -> {
            ch.write(ByteBuffer.wrap(new byte[]{9, 9}), 4); // positioned write leaves a hole of zeros
        });
        assertArrayEquals(new byte[]{1, 2, 3}, Files.readAllBytes(dir.resolve("a.bin")));
        assertEquals("héllo", Files.readString(dir.resolve("b.txt")));
        assertEquals("streamed", Files.readString(dir.resolve("c.txt")));
        assertArrayEquals(new byte[]{0, 0, 0, 0, 9, 9}, Files.readAllBytes(dir.resolve("d.bin")));
        assertEquals(List.of("a.bin", "b.txt", "c.txt", "d.bin"), listing());
    }

    @Test
    void replacingKeepsOnlyTheNewContent() throws IOException {
        Path f = dir.resolve("f.txt");
        AtomicFiles.writeString(f, "old content that is longer");
        AtomicFiles.writeString(f, "new");
        assertEquals("new", Files.readString(f));
        assertEquals(List.of("f.txt"), listing());
    }

    @Test
    void aFailingWriterKeepsTheOldFileAndLeavesNoTemporaryFile() throws IOException {
        Path f = dir.resolve("f.txt");
        AtomicFiles.writeString(f, "old");
        IOException boom = new IOException("disk on fire");
        IOException thrown = assertThrows(IOException.class, () -> AtomicFiles.writeStream(f, out -> {
            out.write("partial new cont".getBytes(StandardCharsets.UTF_8));
            throw boom;
        }));
        assertSame(boom, thrown);
        IllegalStateException runtime = assertThrows(IllegalStateException.class, () -> AtomicFiles.writeChannel(f, ch -> {
            ch.write(ByteBuffer.wrap(new byte[100]));
            throw new IllegalStateException("bug in the writer");
        }));
        assertEquals("bug in the writer", runtime.getMessage());
        assertEquals("old", Files.readString(f));
        assertEquals(List.of("f.txt"), listing());
    }

    @Test
    void newFilesGetTheUsualPermissionsNotOwnerOnly() throws IOException {
        Path plain = Files.createFile(dir.resolve("plain"));
        Path atomic = dir.resolve("atomic");
        AtomicFiles.writeString(atomic, "x");
        Set<PosixFilePermission> expected = Files.getPosixFilePermissions(plain);
        assertEquals(expected, Files.getPosixFilePermissions(atomic));
    }

    @Test
    void commitDirectoryCreatesAndThenReplacesWholeDirectories() throws IOException {
        Path ckpt = dir.resolve("runs/ckpt"); // parent is created too
        AtomicFiles.commitDirectory(ckpt, tmp -> {
            Files.writeString(tmp.resolve("a"), "1");
            Files.writeString(tmp.resolve("stale"), "only in the first version");
            Files.createDirectory(tmp.resolve("sub"));
            Files.writeString(tmp.resolve("sub/x"), "nested");
        });
        assertEquals("nested", Files.readString(ckpt.resolve("sub/x")));
        AtomicFiles.commitDirectory(ckpt, tmp -> {
            assertTrue(tmp.getFileName().toString().matches("ckpt\\.tmp-[0-9a-f]{8}"), tmp.toString());
            assertEquals(ckpt.getParent(), tmp.getParent());
            Files.writeString(tmp.resolve("a"), "2");
        });
        assertEquals("2", Files.readString(ckpt.resolve("a")));
        assertFalse(Files.exists(ckpt.resolve("stale")));
        assertFalse(Files.exists(ckpt.resolve("sub")));
        try (Stream<Path> s = Files.list(ckpt.getParent())) {
            assertEquals(List.of("ckpt"), s.map(p -> p.getFileName().toString()).toList());
        }
    }

    @Test
    void aFailingDirectoryWriterKeepsTheOldDirectoryAndLeavesNothingBehind() throws IOException {
        Path ckpt = dir.resolve("ckpt");
        AtomicFiles.commitDirectory(ckpt, tmp -> Files.writeString(tmp.resolve("a"), "old"));
        assertThrows(IOException.class, () -> AtomicFiles.commitDirectory(ckpt, tmp -> {
            Files.writeString(tmp.resolve("a"), "new");
            throw new IOException("crash halfway");
        }));
        assertEquals("old", Files.readString(ckpt.resolve("a")));
        assertEquals(List.of("ckpt"), listing());
    }

    @Test
    void recoveryFinishesACommitThatCrashedBetweenItsTwoRenames() throws IOException {
        // the state after "rename old away" and before "rename new in": both copies complete, no target
        Path ckpt = dir.resolve("ckpt");
        Files.writeString(Files.createDirectory(dir.resolve("ckpt.old-0123abcd")).resolve("a"), "old");
        Files.writeString(Files.createDirectory(dir.resolve("ckpt.tmp-0123abcd")).resolve("a"), "new");
        Files.writeString(Files.createDirectory(dir.resolve("ckpt.tmp-99999999")).resolve("a"), "unfinished");
        assertTrue(AtomicFiles.recoverDirectory(ckpt));
        assertEquals("new", Files.readString(ckpt.resolve("a")));
        assertEquals(List.of("ckpt"), listing());
    }

    @Test
    void recoveryRestoresTheOnlyCompleteCopyAndCleansLeftoversOtherwise() throws IOException {
        Path ckpt = dir.resolve("ckpt");
        Files.writeString(Files.createDirectory(dir.resolve("ckpt.old-0123abcd")).resolve("a"), "old");
        assertTrue(AtomicFiles.recoverDirectory(ckpt));
        assertEquals("old", Files.readString(ckpt.resolve("a")));

        // with the target present, leftovers of a crashed commit are only deleted; unrelated names are kept
        Files.createDirectory(dir.resolve("ckpt.tmp-deadbeef"));
        Files.createDirectory(dir.resolve("ckpt.old-deadbeef"));
        Files.createDirectory(dir.resolve("ckpt.tmp-notours"));
        Files.createDirectory(dir.resolve("ckpt2.tmp-deadbeef"));
        assertFalse(AtomicFiles.recoverDirectory(ckpt));
        assertEquals(List.of("ckpt", "ckpt.tmp-notours", "ckpt2.tmp-deadbeef"), listing());
        assertFalse(AtomicFiles.recoverDirectory(dir.resolve("never-written")));
    }
}

package dev.patchwork.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Files past 2 GB (the BLT-1B hash embeddings alone are 12 GB in F32) are read through segments, never one
 * ByteBuffer. The file is sparse: its 2 GB+ hole costs no disk space and, being mapped lazily, no memory.
 */
class LargeFileTest {
    @TempDir
    Path dir;

    @Test
    void tensorsBeyondTheTwoGigabyteMarkAreReadable() throws IOException {
        long padBytes = (1L << 31) + 12; // pushes the next tensor past 2^31 and off 8-byte alignment
        String header = "{\"pad\":{\"dtype\":\"U8\",\"shape\":[" + padBytes + "],\"data_offsets\":[0," + padBytes + "]},"
                + "\"tail\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[" + padBytes + "," + (padBytes + 16) + "]}}";
        byte[] headerBytes = header.getBytes(StandardCharsets.UTF_8);
        byte[] tail = SafetensorsBytes.floatsLE(1.5f, -2f, Float.MIN_VALUE, 65504f);
        Path file = dir.resolve("big.safetensors");
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "rw")) {
            raf.write(SafetensorsBytes.file(headerBytes.length, headerBytes, new byte[0]));
            raf.seek(8 + headerBytes.length + padBytes);
            raf.write(tail);
        }
        try (SafetensorsFile f = Safetensors.open(file)) {
            assertEquals(padBytes, f.tensor("pad").data().byteSize());
            assertTrue(f.tensor("pad").elementCount() > Integer.MAX_VALUE);
            assertArrayEquals(new float[]{1.5f, -2f, Float.MIN_VALUE, 65504f}, f.readFloats("tail"));
        }
    }
}

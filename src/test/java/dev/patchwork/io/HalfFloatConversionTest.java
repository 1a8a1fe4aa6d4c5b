package dev.patchwork.io;

import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.tensor.ParameterLayout;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * BF16 and F16 tensors in hand-made files widen to the float32 values their bit patterns define. Expected values are
 * derived from the IEEE definitions with {@link Math#scalb}, not from the conversion under test.
 */
class HalfFloatConversionTest {
    @TempDir
    Path dir;

    // F16: sign, 5 exponent bits (bias 15), 10 mantissa bits.
    private static final int[] F16_BITS = {
            0x0000, 0x8000, // +0, -0
            0x3C00, 0xC000, // 1, -2
            0x3555,         // 0.333251953125 = 1365/4096
            0x7BFF,         // largest normal 65504
            0x0400,         // smallest normal 2^-14
            0x0001, 0x8001, // smallest subnormals ±2^-24
            0x03FF,         // largest subnormal 1023 * 2^-24
            0x0200,         // subnormal 2^-15
            0x7C00, 0xFC00, // ±inf
            0x7E00, 0xFE01, // NaNs
    };
    private static final float[] F16_VALUES = {
            0f, -0f,
            1f, -2f,
            1365f / 4096f,
            65504f,
            Math.scalb(1f, -14),
            Math.scalb(1f, -24), -Math.scalb(1f, -24),
            Math.scalb(1023f, -24),
            Math.scalb(1f, -15),
            Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY,
            Float.NaN, Float.NaN,
    };

    // BF16: the top 16 bits of a float32.
    private static final int[] BF16_BITS = {
            0x0000, 0x8000, // ±0
            0x3F80, 0xC000, // 1, -2
            0x4049,         // 3.140625 = (1 + 73/128) * 2
            0x7F7F,         // largest finite (2 - 2^-7) * 2^127
            0x0080,         // smallest normal 2^-126
            0x0001, 0x8001, // smallest subnormals ±2^-133
            0x007F,         // largest subnormal 127 * 2^-133
            0x7F80, 0xFF80, // ±inf
            0x7FC0, 0xFFC1, // NaNs
    };
    private static final float[] BF16_VALUES = {
            0f, -0f,
            1f, -2f,
            3.140625f,
            Math.scalb(2f - Math.scalb(1f, -7), 127),
            Math.scalb(1f, -126),
            Math.scalb(1f, -133), -Math.scalb(1f, -133),
            Math.scalb(127f, -133),
            Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY,
            Float.NaN, Float.NaN,
    };

    private Path handMadeFile() throws IOException {
        int f16Bytes = F16_BITS.length * 2, bf16Bytes = BF16_BITS.length * 2;
        String header = "{\"half\":{\"dtype\":\"F16\",\"shape\":[" + F16_BITS.length + "],\"data_offsets\":[0," + f16Bytes + "]},"
                + "\"brain\":{\"dtype\":\"BF16\",\"shape\":[" + BF16_BITS.length + "],\"data_offsets\":[" + f16Bytes + ","
                + (f16Bytes + bf16Bytes) + "]}}";
        byte[] data = new byte[f16Bytes + bf16Bytes];
        System.arraycopy(SafetensorsBytes.shortsLE(F16_BITS), 0, data, 0, f16Bytes);
        System.arraycopy(SafetensorsBytes.shortsLE(BF16_BITS), 0, data, f16Bytes, bf16Bytes);
        Path file = dir.resolve("half.safetensors");
        Files.write(file, SafetensorsBytes.file(header, data));
        return file;
    }

    @Test
    void f16WidensExactlyIncludingSubnormalsInfinitiesNanAndNegativeZero() throws IOException {
        try (SafetensorsFile f = Safetensors.open(handMadeFile())) {
            assertEquals(Dtype.F16, f.tensor("half").dtype());
            assertBitsEqual(F16_VALUES, f.readFloats("half"));
        }
    }

    @Test
    void bf16WidensExactlyIncludingSubnormalsInfinitiesNanAndNegativeZero() throws IOException {
        try (SafetensorsFile f = Safetensors.open(handMadeFile())) {
            assertEquals(Dtype.BF16, f.tensor("brain").dtype());
            assertBitsEqual(BF16_VALUES, f.readFloats("brain"));
        }
    }

    @Test
    void halfTensorsLoadIntoParameterViewsAndSegments() throws IOException {
        ParameterLayout.Builder b = ParameterLayout.builder();
        ParameterLayout.View half = b.add("half", F16_BITS.length);
        ParameterLayout.View brain = b.add("brain", BF16_BITS.length);
        ParameterBuffer buf = ParameterBuffer.allocate(b.build());
        try (SafetensorsFile f = Safetensors.open(handMadeFile())) {
            f.loadInto(buf);
            assertBitsEqual(F16_VALUES, buf.toArray(half));
            assertBitsEqual(BF16_VALUES, buf.toArray(brain));

            // copyFloatsTo honours the destination offset
            MemorySegment dst = Arena.ofAuto().allocate(4L * (BF16_BITS.length + 3));
            f.tensor("brain").copyFloatsTo(dst, 12);
            for (int i = 0; i < BF16_VALUES.length; i++)
                assertEquals(BF16_VALUES[i], dst.get(ParameterBuffer.F32, 12 + 4L * i));
        }
    }

    @Test
    void nonFloatTypesAreReadableAsBytesButRefuseConversion() throws IOException {
        Path file = dir.resolve("ints.safetensors");
        Files.write(file, SafetensorsBytes.file("{\"ids\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[0,16]}}", new byte[16]));
        try (SafetensorsFile f = Safetensors.open(file)) {
            assertEquals(16, f.tensor("ids").data().byteSize());
            CheckpointException e = assertThrows(CheckpointException.class, () -> f.readFloats("ids"));
            assertTrue(e.getMessage().contains("ids has dtype I64"), e.getMessage());
        }
    }

    /** Equal as bit patterns, except that any NaN matches any NaN (payloads are not part of the contract). */
    private static void assertBitsEqual(float[] expected, float[] actual) {
        assertEquals(expected.length, actual.length);
        for (int i = 0; i < expected.length; i++) {
            if (Float.isNaN(expected[i])) assertTrue(Float.isNaN(actual[i]), "element " + i + " should be NaN, was " + actual[i]);
            else assertEquals(Float.floatToRawIntBits(expected[i]), Float.floatToRawIntBits(actual[i]),
                    "element " + i + ": expected " + expected[i] + ", got " + actual[i]);
        }
    }
}

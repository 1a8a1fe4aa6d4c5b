package dev.patchwork.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Each way a safetensors file can be broken gets its own one-line message naming the file. */
class SafetensorsValidationTest {
    @TempDir
    Path dir;

    private static final byte[] DATA_24 = new byte[24];

    private CheckpointException openFails(byte[] content) throws IOException {
        Path file = dir.resolve("bad.safetensors");
        Files.write(file, content);
        CheckpointException e = assertThrows(CheckpointException.class, () -> Safetensors.open(file).close());
        assertTrue(e.getMessage().startsWith(file + ": "), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), "message should be one line: " + e.getMessage());
        assertEquals(file, e.file());
        return e;
    }

    private void assertMessage(String expectedFragment, CheckpointException e) {
        assertTrue(e.getMessage().contains(expectedFragment), "expected '" + expectedFragment + "' in: " + e.getMessage());
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', textBlock = """
            invalid JSON            | {"a":{"dtype":"F32",                                                          | not valid JSON
            not an object           | [1,2,3]                                                                       | not a JSON object
            empty header            | '   '                                                                         | header is empty
            trailing garbage        | {} x                                                                          | not valid JSON
            duplicate names         | {"a":{"dtype":"F32","shape":[6],"data_offsets":[0,24]},"a":{"dtype":"F32","shape":[6],"data_offsets":[0,24]}} | Duplicate field 'a'
            entry not an object     | {"a":5}                                                                       | entry for tensor a is not a JSON object
            missing dtype           | {"a":{"shape":[6],"data_offsets":[0,24]}}                                     | tensor a has no "dtype" string
            missing shape           | {"a":{"dtype":"F32","data_offsets":[0,24]}}                                   | tensor a has no "shape" array
            missing offsets         | {"a":{"dtype":"F32","shape":[6]}}                                             | tensor a has no "data_offsets" array
            unknown dtype           | {"a":{"dtype":"F128","shape":[6],"data_offsets":[0,24]}}                      | tensor a has unknown dtype 'F128'
            negative dimension      | {"a":{"dtype":"F32","shape":[-6],"data_offsets":[0,24]}}                      | tensor a has a negative dimension in shape [-6]
            fractional dimension    | {"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,24]}}                     | non-integer or too large value in "shape": 2.5
            huge dimension          | {"a":{"dtype":"F32","shape":[99999999999999999999],"data_offsets":[0,24]}}    | non-integer or too large value
            overflowing shape       | {"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,24]}}   | too large to exist
            size mismatch           | {"a":{"dtype":"F32","shape":[5],"data_offsets":[0,24]}}                       | needs 20 bytes, but its data_offsets [0,24] span 24
            dtype size mismatch     | {"a":{"dtype":"F16","shape":[6],"data_offsets":[0,24]}}                       | needs 12 bytes
            three offsets           | {"a":{"dtype":"F32","shape":[6],"data_offsets":[0,12,24]}}                    | has 3 data_offsets, expected 2
            reversed offsets        | {"a":{"dtype":"F32","shape":[6],"data_offsets":[24,0]}}                       | invalid data_offsets [24,0]
            negative offset         | {"a":{"dtype":"F32","shape":[6],"data_offsets":[-4,20]}}                      | invalid data_offsets [-4,20]
            offsets out of range    | {"a":{"dtype":"F32","shape":[8],"data_offsets":[0,32]}}                       | data_offsets [0,32] beyond the 24-byte data section
            overlap                 | {"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}} | tensors a and b overlap
            gap                     | {"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[16,24]}}  | gap of 8 bytes before tensor b
            tail after last tensor  | {"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}                       | 8 bytes after the last tensor
            metadata not an object  | {"__metadata__":[1],"a":{"dtype":"F32","shape":[6],"data_offsets":[0,24]}}    | __metadata__ is not a JSON object
            control chars in name   | {"a\\nb\\u0007":{"dtype":"F128","shape":[6],"data_offsets":[0,24]}}        | tensor a\\u000ab\\u0007 has unknown dtype
            metadata value number   | {"__metadata__":{"k":1},"a":{"dtype":"F32","shape":[6],"data_offsets":[0,24]}} | __metadata__ value for 'k' is not a string
            """)
    void corruptHeadersAreRejectedWithAClearMessage(String what, String header, String fragment) throws IOException {
        assertMessage(fragment, openFails(SafetensorsBytes.file(header, DATA_24)));
    }

    @Test
    void theValidHeaderUsedAboveIsAccepted() throws IOException {
        Path file = dir.resolve("ok.safetensors");
        Files.write(file, SafetensorsBytes.file("{\"__metadata__\":{\"k\":\"v\"},\"a\":{\"dtype\":\"F32\",\"shape\":[6],\"data_offsets\":[0,24]}}", DATA_24));
        try (SafetensorsFile f = Safetensors.open(file)) {
            assertEquals(6, f.readFloats("a").length);
        }
    }

    @Test
    void lengthFieldProblems() throws IOException {
        byte[] header = "{}".getBytes(StandardCharsets.UTF_8);
        assertMessage("file is 0 bytes, too short", openFails(new byte[0]));
        assertMessage("file is 5 bytes, too short", openFails(new byte[5]));
        assertMessage("header length 100 exceeds the 2 bytes", openFails(SafetensorsBytes.file(100, header, new byte[0])));
        assertMessage("header length 1099511627776 is larger than the 100000000-byte limit",
                openFails(SafetensorsBytes.file(1L << 40, header, new byte[0])));
        assertMessage("header length 18446744073709551615 is larger", openFails(SafetensorsBytes.file(-1, header, new byte[0])));
        assertMessage("header is empty", openFails(SafetensorsBytes.file(0, new byte[0], new byte[0])));
    }

    @Test
    void headerMustBeUtf8() throws IOException {
        byte[] header = {'{', '"', (byte) 0xC3, (byte) 0x28, '"', ':', '1', '}'};
        assertMessage("not valid UTF-8", openFails(SafetensorsBytes.file(header.length, header, new byte[0])));
    }

    @Test
    void missingFileAndDirectory() {
        Path missing = dir.resolve("nope.safetensors");
        CheckpointException e = assertThrows(CheckpointException.class, () -> Safetensors.open(missing));
        assertEquals(missing + ": file not found", e.getMessage());
        CheckpointException d = assertThrows(CheckpointException.class, () -> Safetensors.open(dir));
        assertEquals(dir + ": is a directory, not a safetensors file", d.getMessage());
    }

    @Test
    void emptyFileWithNoTensorsIsValid() throws IOException {
        Path file = dir.resolve("empty.safetensors");
        Safetensors.writer().write(file);
        try (SafetensorsFile f = Safetensors.open(file)) {
            assertTrue(f.tensors().isEmpty());
        }
    }
}

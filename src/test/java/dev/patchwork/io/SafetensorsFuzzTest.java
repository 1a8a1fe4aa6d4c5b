package dev.patchwork.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Seeded random corruptions of a valid file: truncations, bit flips in the length field and the JSON, lengths that
 * lie, headers whose offsets, shapes or types lie, and flipped data bits (readable: any bits are some float). Every
 * one must either read cleanly (all tensors converted) or fail with a {@link CheckpointException}: any other
 * exception type, a hang or an OOM fails the test.
 */
class SafetensorsFuzzTest {
    private static final int CASES = 400;
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    /** Three tensors of the three float types and some metadata. */
    private static byte[] validFile() {
        String header = "{\"__metadata__\":{\"format\":\"pt\"},"
                + "\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                + "\"h\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[24,32]},"
                + "\"b\":{\"dtype\":\"BF16\",\"shape\":[2,2],\"data_offsets\":[32,40]}}";
        byte[] data = new byte[40];
        System.arraycopy(SafetensorsBytes.floatsLE(1, -2, 3.5f, 0, Float.NaN, 1e-40f), 0, data, 0, 24);
        System.arraycopy(SafetensorsBytes.shortsLE(0x3C00, 0x0001, 0x7C00, 0x8000), 0, data, 24, 8);
        System.arraycopy(SafetensorsBytes.shortsLE(0x3F80, 0x0001, 0xFF80, 0x7FC0), 0, data, 32, 8);
        return SafetensorsBytes.file(header, data);
    }

    @Test
    void everyCorruptionReadsCleanlyOrFailsWithACheckpointException() {
        assertTimeoutPreemptively(Duration.ofSeconds(60), this::fuzz);
    }

    private void fuzz() throws IOException {
        byte[] valid = validFile();
        int headerLength = (int) ByteBuffer.wrap(valid).order(ByteOrder.LITTLE_ENDIAN).getLong();
        SplittableRandom rnd = new SplittableRandom(20240611);
        int ok = 0, rejected = 0;
        long start = System.nanoTime();
        for (int c = 0; c < CASES; c++) {
            byte[] mutated = mutate(valid, headerLength, rnd);
            Path file = dir.resolve("fuzz-" + c + ".safetensors");
            Files.write(file, mutated);
            try (SafetensorsFile f = Safetensors.open(file)) {
                for (TensorEntry t : f.tensors()) {
                    assertTrue(t.data().byteSize() == t.elementCount() * t.dtype().byteSize(), t.toString());
                    if (t.dtype().convertsToFloat()) t.toFloatArray();
                }
                f.metadata();
                ok++;
            } catch (CheckpointException e) {
                assertTrue(e.getMessage().startsWith(file + ": "), e.getMessage());
                assertFalse(e.getMessage().contains("\n"), "message should be one line: " + e.getMessage());
                rejected++;
            } catch (Throwable t) {
                throw new AssertionError("case " + c + " threw " + t + " for content "
                        + new String(mutated, StandardCharsets.ISO_8859_1), t);
            }
            Files.delete(file);
        }
        System.out.printf("safetensors fuzz: %d cases, %d read, %d rejected, %.0f ms%n",
                CASES, ok, rejected, (System.nanoTime() - start) / 1e6);
        // the mutations must exercise both outcomes, or the test proves little
        assertTrue(ok >= 10, "only " + ok + " mutated files were readable");
        assertTrue(rejected >= CASES / 2, "only " + rejected + " mutated files were rejected");
    }

    private static byte[] mutate(byte[] valid, int headerLength, SplittableRandom rnd) throws IOException {
        byte[] b = valid.clone();
        int kind = rnd.nextInt(9);
        switch (kind) {
            case 0 -> b = Arrays.copyOf(b, rnd.nextInt(b.length)); // truncation
            case 1 -> b[rnd.nextInt(8)] ^= (byte) (1 << rnd.nextInt(8)); // bit flip in the length field
            case 2 -> { // bit flips in the JSON
                int flips = 1 + rnd.nextInt(3);
                for (int i = 0; i < flips; i++) b[8 + rnd.nextInt(headerLength)] ^= (byte) (1 << rnd.nextInt(8));
            }
            case 3 -> { // a JSON character replaced by another JSON-ish one (often keeps the JSON valid)
                byte[] alphabet = "0123456789-[]{},:\" .eE".getBytes(StandardCharsets.US_ASCII);
                b[8 + rnd.nextInt(headerLength)] = alphabet[rnd.nextInt(alphabet.length)];
            }
            case 4 -> { // a lying length field
                long[] lies = {0, 1, headerLength - 1, headerLength + 1, b.length, b.length - 8, -1, Long.MIN_VALUE,
                        1L << 31, 1L << 32, 100_000_000, 100_000_001, rnd.nextLong()};
                ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(0, lies[rnd.nextInt(lies.length)]);
            }
            case 5 -> b = lyingHeader(valid, headerLength, rnd); // well-formed JSON whose fields lie
            case 6 -> { // bytes appended or removed at the end of the data
                b = rnd.nextBoolean() ? Arrays.copyOf(b, b.length + 1 + rnd.nextInt(16)) : Arrays.copyOf(b, b.length - 1 - rnd.nextInt(8));
            }
            case 7 -> b[8 + headerLength + rnd.nextInt(b.length - 8 - headerLength)] ^= (byte) (1 << rnd.nextInt(8)); // data
            default -> { // a combination
                b = lyingHeader(valid, headerLength, rnd);
                if (rnd.nextBoolean()) b = Arrays.copyOf(b, rnd.nextInt(b.length + 1));
                else b[rnd.nextInt(b.length)] ^= (byte) rnd.nextInt(256);
            }
        }
        return b;
    }

    /** Re-serialises the header with one field of one tensor changed; the length field usually matches it. */
    private static byte[] lyingHeader(byte[] valid, int headerLength, SplittableRandom rnd) throws IOException {
        ObjectNode root = (ObjectNode) JSON.readTree(new String(valid, 8, headerLength, StandardCharsets.UTF_8));
        List<String> names = new ArrayList<>();
        root.fieldNames().forEachRemaining(n -> { if (!n.equals("__metadata__")) names.add(n); });
        String name = names.get(rnd.nextInt(names.size()));
        ObjectNode t = (ObjectNode) root.get(name);
        long[] values = {-1, 0, 1, 2, 3, 4, 8, 16, 24, 40, 41, 1L << 31, 1L << 40, Long.MAX_VALUE, Long.MIN_VALUE};
        long value = values[rnd.nextInt(values.length)];
        switch (rnd.nextInt(10)) {
            case 0 -> ((ArrayNode) t.get("data_offsets")).set(0, value);
            case 1 -> ((ArrayNode) t.get("data_offsets")).set(1, value);
            case 2 -> ((ArrayNode) t.get("shape")).set(0, value);
            case 3 -> ((ArrayNode) t.get("shape")).add(value);
            case 4 -> t.put("dtype", List.of("F32", "F16", "BF16", "I64", "U8", "F64", "BOOL", "X9", "").get(rnd.nextInt(9)));
            case 5 -> t.remove(List.of("dtype", "shape", "data_offsets").get(rnd.nextInt(3)));
            case 6 -> t.put(List.of("dtype", "shape", "data_offsets").get(rnd.nextInt(3)), value);
            case 7 -> root.set(name + "2", t.deepCopy()); // a duplicate range under another name
            case 8 -> root.set(name, rnd.nextBoolean() ? JSON.nullNode() : JSON.getNodeFactory().textNode("x"));
            default -> ((ObjectNode) root.get("__metadata__")).put("format", value); // metadata must be strings
        }
        byte[] header = JSON.writeValueAsBytes(root);
        long declared = rnd.nextInt(4) == 0 ? header.length + rnd.nextInt(-3, 4) : header.length;
        return SafetensorsBytes.file(declared, header, Arrays.copyOfRange(valid, 8 + headerLength, valid.length));
    }
}

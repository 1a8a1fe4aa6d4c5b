package dev.patchwork.io;

import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.tensor.ParameterLayout;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SafetensorsRoundTripTest {
    @TempDir
    Path dir;

    /** A small model-like layout with ragged sizes (not multiples of the 16-float alignment). */
    static ParameterLayout smallLayout() {
        ParameterLayout.Builder b = ParameterLayout.builder();
        b.add("tok_embeddings.weight", 13, 7);
        b.add("layers.0.attention.wq.weight", 7, 7);
        b.add("layers.0.attention_norm.weight", 7);
        b.add("norm.weight", 7);
        b.add("output.weight", 13, 7);
        return b.build();
    }

    /** Random values plus the special ones a bit-exact round trip must keep: -0, ±inf, NaN payloads, subnormals. */
    static ParameterBuffer randomBuffer(ParameterLayout layout, long seed) {
        ParameterBuffer buf = ParameterBuffer.allocate(layout);
        SplittableRandom rnd = new SplittableRandom(seed);
        int[] special = {0x80000000, 0x7F800000, 0xFF800000, 0x7FC00001, 0xFFBFFFFF, 0x00000001, 0x807FFFFF};
        for (ParameterLayout.View v : layout.views())
            for (long i = 0; i < v.size(); i++)
                buf.set(v, i, i < special.length ? Float.intBitsToFloat(special[(int) i]) : Float.intBitsToFloat(rnd.nextInt()));
        return buf;
    }

    @Test
    void parameterBufferRoundTripsBitExactWithNamesShapesOrderAndMetadata() {
        ParameterLayout layout = smallLayout();
        ParameterBuffer params = randomBuffer(layout, 42);
        Path file = dir.resolve("model.safetensors");
        Safetensors.write(file, params, Map.of("format", "pt", "note", "ünïcode ✓"));

        ParameterBuffer back = ParameterBuffer.allocate(layout);
        try (SafetensorsFile f = Safetensors.open(file)) {
            assertEquals(layout.views().stream().map(ParameterLayout.View::name).toList(), List.copyOf(f.names()));
            for (ParameterLayout.View v : layout.views()) {
                TensorEntry t = f.tensor(v.name());
                assertEquals(Dtype.F32, t.dtype());
                assertTrue(t.hasShape(v.shape()), t.toString());
            }
            assertEquals(Map.of("format", "pt", "note", "ünïcode ✓"), f.metadata());
            f.loadInto(back);
        }
        for (ParameterLayout.View v : layout.views())
            for (long i = 0; i < v.size(); i++)
                assertEquals(Float.floatToRawIntBits(params.get(v, i)), Float.floatToRawIntBits(back.get(v, i)), v.name() + "[" + i + "]");
    }

    @Test
    void headerIsSpacePaddedToAMultipleOf8AndDataFollowsInAddOrder() throws IOException {
        Path file = dir.resolve("t.safetensors");
        float[] a = {1, 2, 3}, b = {4};
        Safetensors.write(file, List.of(TensorData.of("a", new int[]{3}, a), TensorData.of("bb", new int[]{1, 1}, b)), Map.of());
        byte[] bytes = Files.readAllBytes(file);
        long n = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, n % 8, "header length " + n);
        String header = new String(bytes, 8, (int) n, StandardCharsets.UTF_8);
        assertTrue(header.startsWith("{") && header.stripTrailing().endsWith("}"), header);
        assertTrue(header.indexOf("\"a\"") < header.indexOf("\"bb\""), header);
        assertEquals(8 + n + 16, bytes.length);
        ByteBuffer data = ByteBuffer.wrap(bytes, 8 + (int) n, 16).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(1f, data.getFloat());
        assertEquals(2f, data.getFloat());
        assertEquals(3f, data.getFloat());
        assertEquals(4f, data.getFloat());
    }

    @Test
    void segmentsOfEveryKindAndScalarsAndEmptyTensorsRoundTrip() {
        // a native segment, a heap segment over float[] (not viewable as a ByteBuffer), a scalar and an empty tensor;
        // the 3 MB tensor crosses the writer's 1 MB staging chunks.
        SplittableRandom rnd = new SplittableRandom(7);
        int big = 3 * SafetensorsWriter.CHUNK_BYTES / 4 + 5;
        MemorySegment nativeSeg = Arena.ofAuto().allocate(4L * big);
        for (int i = 0; i < big; i++) nativeSeg.setAtIndex(ParameterBuffer.F32, i, (float) rnd.nextGaussian());
        float[] heap = {0.5f, -1.5f, 2.25f, 1e-42f};
        MemorySegment heapSeg = MemorySegment.ofArray(heap.clone());
        Path file = dir.resolve("mixed.safetensors");
        Safetensors.writer()
                .add("big", new int[]{big}, nativeSeg)
                .add("heap", new int[]{2, 2}, heapSeg)
                .add(new TensorData("scalar", new long[0], MemorySegment.ofArray(SafetensorsBytes.floatsLE(3.5f))))
                .add("empty", new int[]{0, 4}, new float[0])
                .write(file);
        try (SafetensorsFile f = Safetensors.open(file)) {
            assertEquals(List.of("big", "heap", "scalar", "empty"), List.copyOf(f.names()));
            assertEquals(-1, f.tensor("big").data().mismatch(nativeSeg));
            assertArrayEquals(heap, f.readFloats("heap"));
            assertArrayEquals(new float[]{3.5f}, f.readFloats("scalar"));
            assertEquals(0, f.tensor("scalar").shape().length);
            assertEquals(1, f.tensor("scalar").elementCount());
            assertEquals(0, f.readFloats("empty").length);
            assertArrayEquals(new long[]{0, 4}, f.tensor("empty").shape());
        }
    }

    @Test
    void prefixedBuffersShareOneFileAndLoadSeparately() {
        ParameterLayout layout = smallLayout();
        ParameterBuffer m = randomBuffer(layout, 1), v = randomBuffer(layout, 2);
        Path file = dir.resolve("opt.safetensors");
        Safetensors.writer().addAll(m, "m.").addAll(v, "v.").write(file);
        ParameterBuffer m2 = ParameterBuffer.allocate(layout), v2 = ParameterBuffer.allocate(layout);
        try (SafetensorsFile f = Safetensors.open(file)) {
            f.loadInto(m2, "m.");
            f.loadInto(v2, "v.");
        }
        assertEquals(-1, m.segment().mismatch(m2.segment()));
        assertEquals(-1, v.segment().mismatch(v2.segment()));
    }

    @Test
    void shapeMismatchNamesTensorAndBothShapesAndLeavesBufferUntouched() {
        Path file = dir.resolve("model.safetensors");
        Safetensors.write(file, randomBuffer(smallLayout(), 3), Map.of());
        ParameterLayout.Builder b = ParameterLayout.builder();
        b.add("tok_embeddings.weight", 13, 7);
        b.add("layers.0.attention.wq.weight", 7, 8);
        b.add("layers.0.attention_norm.weight", 7);
        b.add("norm.weight", 7);
        b.add("output.weight", 7, 13);
        ParameterBuffer target = ParameterBuffer.allocate(b.build());
        try (SafetensorsFile f = Safetensors.open(file)) {
            CheckpointException e = assertThrows(CheckpointException.class, () -> f.loadInto(target));
            assertEquals(file + ": tensor layers.0.attention.wq.weight has shape [7,7], model expects [7,8]"
                    + " (and 1 more mismatched tensors)", e.getMessage());
            assertEquals(file, e.file());
        }
        for (long i = 0; i < target.floats(); i++) assertEquals(0f, target.get(i), "buffer was modified at " + i);
    }

    @Test
    void missingAndUnexpectedTensorsAreListedByName() {
        Path file = dir.resolve("model.safetensors");
        Safetensors.write(file, randomBuffer(smallLayout(), 4), Map.of());
        ParameterLayout.Builder b = ParameterLayout.builder();
        b.add("tok_embeddings.weight", 13, 7);
        b.add("layers.0.attention.wq.weight", 7, 7);
        b.add("layers.0.ffn_norm.weight", 7);
        b.add("output.weight", 13, 7);
        ParameterBuffer target = ParameterBuffer.allocate(b.build());
        try (SafetensorsFile f = Safetensors.open(file)) {
            CheckpointException e = assertThrows(CheckpointException.class, () -> f.loadInto(target));
            assertEquals(file + ": tensors do not match the model: missing 1 tensor (layers.0.ffn_norm.weight);"
                    + " unexpected 2 tensors (layers.0.attention_norm.weight, norm.weight)", e.getMessage());
            CheckpointException one = assertThrows(CheckpointException.class, () -> f.tensor("nope"));
            assertTrue(one.getMessage().contains("no tensor named nope"), one.getMessage());
        }
    }

    @Test
    void writerRejectsBadInputWithClearMessages() {
        SafetensorsWriter w = Safetensors.writer().add("a", new int[]{2}, new float[]{1, 2});
        assertTrue(assertThrows(IllegalArgumentException.class, () -> w.add("a", new int[]{1}, new float[]{1}))
                .getMessage().contains("added twice"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> w.add("__metadata__", new int[]{1}, new float[]{1}))
                .getMessage().contains("reserved"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> w.add("c", new int[]{3}, new float[]{1, 2}))
                .getMessage().contains("needs 12 bytes"));
    }

    @Test
    void mappedTensorsAreReadOnlySlicesOfTheFile() {
        Path file = dir.resolve("m.safetensors");
        Safetensors.writer().add("x", new int[]{4}, new float[]{1, 2, 3, 4}).write(file);
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsFile f = Safetensors.open(file, arena);
            MemorySegment data = f.tensor("x").data();
            assertTrue(data.isReadOnly());
            assertTrue(data.isMapped());
            assertEquals(0, data.address() % 8, "data section should be 8-byte aligned");
            assertEquals(3f, data.getAtIndex(ParameterBuffer.F32, 2));
            f.close(); // the caller's arena owns the mapping: still readable
            assertEquals(4f, data.getAtIndex(ParameterBuffer.F32, 3));
        }
    }
}

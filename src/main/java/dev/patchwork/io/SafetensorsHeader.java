package dev.patchwork.io;

import com.fasterxml.jackson.core.JacksonException;
import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Parses and validates the header of a mapped safetensors file.
 *
 * <p>Layout: an unsigned little-endian 64-bit length N, N bytes of UTF-8 JSON, then the data section. The JSON maps
 * each tensor name to {@code {"dtype", "shape", "data_offsets": [begin, end]}} (offsets relative to the data section)
 * plus an optional {@code "__metadata__"} map of strings. Validation is strict, like the reference implementation:
 * the tensors must tile the data section exactly (no gaps, no overlaps, nothing after the last one), so any
 * corruption of the header is caught here instead of producing garbage weights later.
 */
final class SafetensorsHeader {
    /** Larger headers are rejected before anything is allocated (the reference implementation uses the same bound). */
    static final long MAX_HEADER_BYTES = 100_000_000;
    static final String METADATA_KEY = "__metadata__";

    private static final ValueLayout.OfLong U64_LE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Duplicate names and text after the JSON object are corruption, not something to silently resolve. */
    static final ObjectMapper MAPPER = JsonMapper.builder()
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .build();

    record Parsed(List<TensorEntry> tensors, Map<String, String> metadata) {}

    private record Pending(String name, Dtype dtype, long[] shape, long elements, long begin, long end) {}

    private SafetensorsHeader() {}

    /** One tensor of a header to write: its bytes follow the previous tensor's. */
    record Entry(String name, Dtype dtype, long[] shape, long bytes) {}

    /**
     * The JSON header of tensors laid out back to back in list order ({@code data_offsets} accumulate), with optional
     * {@code __metadata__}, space-padded to a multiple of 8 bytes so the data section starts 8-byte aligned.
     */
    static byte[] encode(java.util.Map<String, String> metadata, List<Entry> entries) {
        com.fasterxml.jackson.databind.node.ObjectNode root = MAPPER.createObjectNode();
        if (metadata != null && !metadata.isEmpty()) {
            com.fasterxml.jackson.databind.node.ObjectNode meta = root.putObject(METADATA_KEY);
            metadata.forEach(meta::put);
        }
        long offset = 0;
        for (Entry t : entries) {
            com.fasterxml.jackson.databind.node.ObjectNode e = root.putObject(t.name());
            e.put("dtype", t.dtype().name());
            com.fasterxml.jackson.databind.node.ArrayNode shape = e.putArray("shape");
            for (long d : t.shape()) shape.add(d);
            e.putArray("data_offsets").add(offset).add(offset + t.bytes());
            offset += t.bytes();
        }
        byte[] json;
        try {
            json = MAPPER.writeValueAsBytes(root);
        } catch (JacksonException e) {
            throw new IllegalStateException("cannot serialise a safetensors header", e);
        }
        byte[] padded = java.util.Arrays.copyOf(json, (json.length + 7) / 8 * 8);
        java.util.Arrays.fill(padded, json.length, padded.length, (byte) ' ');
        return padded;
    }

    /** Parses the header of {@code file}, whose whole content is {@code mapped}; slices point into {@code mapped}. */
    static Parsed parse(Path file, MemorySegment mapped) {
        long size = mapped.byteSize();
        if (size < Long.BYTES)
            throw new CheckpointException(file, "file is " + size
                    + " bytes, too short for the 8-byte header length (truncated, or not a safetensors file)");
        long n = mapped.get(U64_LE, 0);
        if (n < 0 || n > MAX_HEADER_BYTES)
            throw new CheckpointException(file, "header length " + Long.toUnsignedString(n) + " is larger than the "
                    + MAX_HEADER_BYTES + "-byte limit (corrupt, or not a safetensors file)");
        if (n > size - Long.BYTES)
            throw new CheckpointException(file, "header length " + n + " exceeds the " + (size - Long.BYTES)
                    + " bytes after the length field (truncated file?)");
        JsonNode root = readJson(file, mapped.asSlice(Long.BYTES, n));
        MemorySegment data = mapped.asSlice(Long.BYTES + n);

        Map<String, String> metadata = Map.of();
        List<Pending> pending = new ArrayList<>();
        for (Map.Entry<String, JsonNode> e : root.properties()) {
            if (e.getKey().equals(METADATA_KEY)) metadata = metadata(file, e.getValue());
            else pending.add(tensor(file, e.getKey(), e.getValue(), data.byteSize()));
        }
        List<TensorEntry> tensors = new ArrayList<>(pending.size());
        for (Pending p : inDataOrder(file, pending, data.byteSize()))
            tensors.add(new TensorEntry(file, p.name, p.dtype, p.shape, p.elements, data.asSlice(p.begin, p.end - p.begin)));
        return new Parsed(Collections.unmodifiableList(tensors), metadata);
    }

    private static JsonNode readJson(Path file, MemorySegment headerBytes) {
        String text;
        try {
            // A strict decoder: Jackson alone would guess UTF-16/32 from zero bytes and replace bad sequences.
            text = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(headerBytes.toArray(ValueLayout.JAVA_BYTE)))
                    .toString();
        } catch (CharacterCodingException e) {
            throw new CheckpointException(file, "header is not valid UTF-8 (corrupt file)", e);
        }
        if (text.isBlank()) throw new CheckpointException(file, "header is empty (corrupt file)");
        JsonNode root;
        try {
            root = MAPPER.readTree(text);
        } catch (JacksonException e) {
            throw new CheckpointException(file, "header is not valid JSON: " + oneLine(e), e);
        }
        if (root == null || !root.isObject())
            throw new CheckpointException(file, "header is not a JSON object (corrupt file)");
        return root;
    }

    /** Jackson's message without its multi-line source excerpt, plus the position in the header. */
    private static String oneLine(JacksonException e) {
        String msg = String.valueOf(e.getOriginalMessage()).replaceAll("\\s+", " ").strip();
        if (msg.length() > 200) msg = msg.substring(0, 200) + "...";
        JsonLocation loc = e.getLocation();
        return loc == null || loc.getCharOffset() < 0 ? msg : msg + " (at header character " + loc.getCharOffset() + ")";
    }

    private static Map<String, String> metadata(Path file, JsonNode node) {
        if (node.isNull()) return Map.of();
        if (!node.isObject()) throw new CheckpointException(file, METADATA_KEY + " is not a JSON object");
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<String, JsonNode> e : node.properties()) {
            if (!e.getValue().isTextual())
                throw new CheckpointException(file, METADATA_KEY + " value for '" + e.getKey() + "' is not a string");
            out.put(e.getKey(), e.getValue().textValue());
        }
        return Collections.unmodifiableMap(out);
    }

    private static Pending tensor(Path file, String name, JsonNode node, long dataBytes) {
        if (!node.isObject()) throw new CheckpointException(file, "entry for tensor " + name + " is not a JSON object");
        JsonNode dtypeNode = node.get("dtype");
        if (dtypeNode == null || !dtypeNode.isTextual())
            throw new CheckpointException(file, "tensor " + name + " has no \"dtype\" string");
        Dtype dtype = Dtype.fromHeaderName(dtypeNode.textValue());
        if (dtype == null)
            throw new CheckpointException(file, "tensor " + name + " has unknown dtype '" + dtypeNode.textValue() + "'");

        long[] shape = longs(file, name, node, "shape");
        long elements = 1;
        for (long d : shape) {
            if (d < 0) throw new CheckpointException(file, "tensor " + name + " has a negative dimension in shape " + TensorEntry.format(shape));
            elements = multiplyOrFail(file, name, shape, elements, d);
        }
        long bytes = multiplyOrFail(file, name, shape, elements, dtype.byteSize());

        long[] offsets = longs(file, name, node, "data_offsets");
        if (offsets.length != 2)
            throw new CheckpointException(file, "tensor " + name + " has " + offsets.length + " data_offsets, expected 2 [begin, end]");
        long begin = offsets[0], end = offsets[1];
        String range = "data_offsets [" + begin + "," + end + "]";
        if (begin < 0 || end < begin)
            throw new CheckpointException(file, "tensor " + name + " has invalid " + range);
        if (end > dataBytes)
            throw new CheckpointException(file, "tensor " + name + " has " + range + " beyond the " + dataBytes
                    + "-byte data section (truncated file?)");
        if (end - begin != bytes)
            throw new CheckpointException(file, "tensor " + name + " of shape " + TensorEntry.format(shape) + " and dtype "
                    + dtype + " needs " + bytes + " bytes, but its " + range + " span " + (end - begin));
        return new Pending(name, dtype, shape, elements, begin, end);
    }

    private static long multiplyOrFail(Path file, String name, long[] shape, long a, long b) {
        try {
            return Math.multiplyExact(a, b);
        } catch (ArithmeticException e) {
            throw new CheckpointException(file, "tensor " + name + " has shape " + TensorEntry.format(shape) + ", too large to exist");
        }
    }

    /** A JSON array of integers that fit in 64 bits; the caller checks their signs. */
    private static long[] longs(Path file, String name, JsonNode node, String field) {
        JsonNode arr = node.get(field);
        if (arr == null || !arr.isArray())
            throw new CheckpointException(file, "tensor " + name + " has no \"" + field + "\" array");
        long[] out = new long[arr.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode v = arr.get(i);
            if (!v.isIntegralNumber() || !v.canConvertToLong())
                throw new CheckpointException(file, "tensor " + name + " has a non-integer or too large value in \""
                        + field + "\": " + abbreviate(v.toString()));
            out[i] = v.longValue();
        }
        return out;
    }

    private static String abbreviate(String s) {
        return s.length() <= 40 ? s : s.substring(0, 40) + "...";
    }

    /**
     * Sorts the tensors by position and checks that they cover the data section exactly once: no gap, no overlap,
     * no tail.
     */
    private static List<Pending> inDataOrder(Path file, List<Pending> tensors, long dataBytes) {
        List<Pending> sorted = new ArrayList<>(tensors);
        sorted.sort(Comparator.comparingLong(Pending::begin).thenComparingLong(Pending::end));
        long pos = 0;
        String previous = null;
        for (Pending t : sorted) {
            if (t.begin < pos)
                throw new CheckpointException(file, "tensors " + previous + " and " + t.name + " overlap in the data section");
            if (t.begin > pos)
                throw new CheckpointException(file, "gap of " + (t.begin - pos) + " bytes before tensor " + t.name
                        + " (data_offsets must be contiguous)");
            pos = t.end;
            previous = t.name;
        }
        if (pos != dataBytes)
            throw new CheckpointException(file, (dataBytes - pos) + " bytes after the last tensor: the data section ("
                    + dataBytes + " bytes) does not match the header");
        return sorted;
    }
}

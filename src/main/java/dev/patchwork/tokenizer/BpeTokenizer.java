package dev.patchwork.tokenizer;

import com.fasterxml.jackson.databind.JsonNode;
import dev.patchwork.data.ByteTokens;
import dev.patchwork.io.AtomicFiles;
import dev.patchwork.util.Json;
import dev.patchwork.util.PatchworkException;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A byte-level BPE tokenizer: ids {@code 0..255} are the bytes themselves, id {@code 256 + r} is merge {@code r}, the
 * concatenation of two earlier tokens. Text is first cut into words ({@link WordSplitter}); each word is encoded on its
 * own by applying the merges in rank order (lowest rank first, every non-overlapping occurrence left to right), exactly
 * as {@link BpeTrainer} applied them while learning. Since every byte is a token, {@link #encode} accepts any bytes
 * (invalid UTF-8 included) and {@link #decode} gives them back exactly.
 *
 * <p>Saved as JSON: {@code {"format": "patchwork-bpe", "version": 1, "vocab_size": V, "merges": [[left, right], ...]}}.
 * Thread-safe: the word cache is a concurrent map.
 */
public final class BpeTokenizer {
    public static final String FORMAT = "patchwork-bpe";
    public static final int VERSION = 1;
    /** File name of the tokenizer inside a run's checkpoint. */
    public static final String FILE_NAME = "tokenizer.json";
    /** Number of byte tokens (ids below this are single bytes). */
    public static final int BYTES = 256;
    private static final int CACHE_LIMIT = 1 << 17;

    private final int[] left, right;
    private final byte[][] tokenBytes;
    private final Map<Long, Integer> rankOfPair;
    private final ConcurrentHashMap<ByteString, int[]> cache = new ConcurrentHashMap<>();

    /**
     * @param left  {@code left[r]} and {@code right[r]}: the two tokens merge {@code r} joins into id {@code 256 + r};
     *              both must be ids that exist before it ({@code < 256 + r}), and no pair may be merged twice
     */
    public BpeTokenizer(int[] left, int[] right) {
        if (left.length != right.length)
            throw new IllegalArgumentException("merge arrays differ in length: " + left.length + " vs " + right.length);
        this.left = left.clone();
        this.right = right.clone();
        int m = left.length;
        tokenBytes = new byte[BYTES + m][];
        for (int b = 0; b < BYTES; b++) tokenBytes[b] = new byte[]{(byte) b};
        rankOfPair = new HashMap<>(2 * m);
        for (int r = 0; r < m; r++) {
            int a = left[r], b = right[r];
            if (a < 0 || b < 0 || a >= BYTES + r || b >= BYTES + r)
                throw new IllegalArgumentException("merge " + r + " joins [" + a + ", " + b + "], but only ids 0.."
                        + (BYTES + r - 1) + " exist before it");
            if (rankOfPair.putIfAbsent(pair(a, b), r) != null)
                throw new IllegalArgumentException("merge " + r + " repeats the pair [" + a + ", " + b + "] of merge " + rankOfPair.get(pair(a, b)));
            byte[] t = Arrays.copyOf(tokenBytes[a], tokenBytes[a].length + tokenBytes[b].length);
            System.arraycopy(tokenBytes[b], 0, t, tokenBytes[a].length, tokenBytes[b].length);
            tokenBytes[BYTES + r] = t;
        }
    }

    static long pair(int a, int b) {
        return ((long) a << 32) | (b & 0xFFFFFFFFL);
    }

    /** 256 byte tokens plus the merges. */
    public int vocabSize() {
        return tokenBytes.length;
    }

    public int mergeCount() {
        return left.length;
    }

    /** The two ids merge {@code rank} joins. */
    public int[] merge(int rank) {
        return new int[]{left[rank], right[rank]};
    }

    /** The bytes of token {@code id} (a copy). */
    public byte[] tokenBytes(int id) {
        return tokenBytes[checkId(id, -1)].clone();
    }

    /** Number of bytes of token {@code id}. */
    public int tokenLength(int id) {
        return tokenBytes[checkId(id, -1)].length;
    }

    /** The tokens of {@code bytes}. */
    public int[] encode(byte[] bytes) {
        return encode(bytes, 0, bytes.length);
    }

    /** The tokens of {@code bytes[from, to)}. */
    public int[] encode(byte[] bytes, int from, int to) {
        IdList out = new IdList(Math.max(16, (to - from) / 3));
        WordSplitter.split(bytes, from, to, (s, e) -> out.addAll(encodeWord(bytes, s, e)));
        return out.toArray();
    }

    /** The bytes of {@code ids}; any id outside {@code [0, vocabSize())} is an error. */
    public byte[] decode(int[] ids) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(ids.length * 4);
        for (int i = 0; i < ids.length; i++) out.writeBytes(tokenBytes[checkId(ids[i], i)]);
        return out.toByteArray();
    }

    /** Byte offsets in {@code bytes} where the tokens of {@link #encode} begin (as many as tokens; 0 first). */
    public int[] tokenStarts(byte[] bytes) {
        int[] ids = encode(bytes);
        int[] starts = new int[ids.length];
        int at = 0;
        for (int i = 0; i < ids.length; i++) {
            starts[i] = at;
            at += tokenBytes[ids[i]].length;
        }
        return starts;
    }

    /**
     * The byte ids ({@link ByteTokens}) of {@code bytes} with the delimiter id 3 in front of every token, optionally
     * after a BOS: the id stream of the reference's BPE-delimiter patching, which {@code BpeDelimiterPatcher} cuts
     * into one patch per token (each patch is a token's bytes followed by the next delimiter).
     */
    public int[] delimitedIds(byte[] bytes, boolean addBos) {
        int[] tokens = encode(bytes);
        int[] ids = new int[(addBos ? 1 : 0) + tokens.length + bytes.length];
        int o = 0;
        if (addBos) ids[o++] = ByteTokens.BOS;
        for (int t : tokens) {
            ids[o++] = ByteTokens.BPE_DELIM;
            for (byte b : tokenBytes[t]) ids[o++] = ByteTokens.id(b);
        }
        return ids;
    }

    /**
     * One word by merge rank: repeatedly the adjacent pair with the lowest rank is merged wherever it occurs (left to
     * right, non-overlapping). This equals applying every merge in rank order, because a merge can only create pairs
     * whose merges were learned later. Worst case O(length × merges applied); words repeat, so results are cached.
     */
    private int[] encodeWord(byte[] bytes, int from, int to) {
        if (to - from == 1) return new int[]{bytes[from] & 0xFF};
        ByteString key = new ByteString(bytes, from, to);
        int[] cached = cache.get(key);
        if (cached != null) return cached;
        int[] s = new int[to - from];
        for (int i = 0; i < s.length; i++) s[i] = bytes[from + i] & 0xFF;
        int n = s.length;
        while (n > 1) {
            int best = Integer.MAX_VALUE;
            for (int i = 0; i + 1 < n; i++) {
                Integer r = rankOfPair.get(pair(s[i], s[i + 1]));
                if (r != null && r < best) best = r;
            }
            if (best == Integer.MAX_VALUE) break;
            n = mergeAll(s, n, left[best], right[best], BYTES + best);
        }
        int[] result = Arrays.copyOf(s, n);
        if (cache.size() >= CACHE_LIMIT) cache.clear(); // bounded memory on corpora with endless distinct words
        cache.put(key, result);
        return result;
    }

    /** Replaces every non-overlapping {@code (a, b)} in {@code s[0, n)}, left to right, by {@code id}; the new length. */
    static int mergeAll(int[] s, int n, int a, int b, int id) {
        int w = 0;
        for (int i = 0; i < n; i++) {
            if (i + 1 < n && s[i] == a && s[i + 1] == b) {
                s[w++] = id;
                i++;
            } else {
                s[w++] = s[i];
            }
        }
        return w;
    }

    private int checkId(int id, int index) {
        if (id < 0 || id >= tokenBytes.length)
            throw new IllegalArgumentException("token id " + id + (index >= 0 ? " at index " + index : "")
                    + " is outside the vocabulary [0, " + tokenBytes.length + ")");
        return id;
    }

    // ---- persistence -----------------------------------------------------------------------------------------------

    /** The file form: one merge per line, so that a 4096-token file stays short and readable. */
    public String toJson() {
        StringBuilder sb = new StringBuilder(64 + 16 * left.length);
        sb.append("{\n  \"format\": \"").append(FORMAT).append("\",\n  \"version\": ").append(VERSION)
                .append(",\n  \"vocab_size\": ").append(vocabSize()).append(",\n  \"merges\": [");
        for (int r = 0; r < left.length; r++)
            sb.append(r == 0 ? "\n    [" : ",\n    [").append(left[r]).append(", ").append(right[r]).append(']');
        return sb.append(left.length == 0 ? "]\n}\n" : "\n  ]\n}\n").toString();
    }

    /** Writes the tokenizer to {@code file} atomically (a crash leaves the old file or the new one, never half). */
    public void save(Path file) throws IOException {
        AtomicFiles.writeString(file, toJson());
    }

    /** Reads a tokenizer file; a missing, malformed or inconsistent file is a one-line {@link PatchworkException}. */
    public static BpeTokenizer load(Path file) {
        if (!Files.isRegularFile(file)) throw new PatchworkException("tokenizer file not found: " + file);
        return fromJson(Json.readTree(file), file.toString());
    }

    public static BpeTokenizer fromJson(JsonNode root, String what) {
        String hint = " (is it a Patchwork tokenizer? make one with 'patchwork tokenizer train')";
        if (root == null || !root.isObject()) throw new PatchworkException(what + ": expected a JSON object" + hint);
        if (!FORMAT.equals(root.path("format").asText()))
            throw new PatchworkException(what + ": 'format' is not \"" + FORMAT + "\"" + hint);
        if (root.path("version").asInt(-1) != VERSION)
            throw new PatchworkException(what + ": unsupported version " + root.path("version") + " (this build reads " + VERSION + ")");
        JsonNode merges = root.get("merges");
        if (merges == null || !merges.isArray()) throw new PatchworkException(what + ": missing 'merges' array" + hint);
        int m = merges.size();
        int[] a = new int[m], b = new int[m];
        for (int r = 0; r < m; r++) {
            JsonNode p = merges.get(r);
            if (!p.isArray() || p.size() != 2 || !p.get(0).canConvertToInt() || !p.get(1).canConvertToInt()
                    || !p.get(0).isIntegralNumber() || !p.get(1).isIntegralNumber())
                throw new PatchworkException(what + ": merges[" + r + "] must be a pair of integer ids, got " + p);
            a[r] = p.get(0).intValue();
            b[r] = p.get(1).intValue();
        }
        if (root.path("vocab_size").asInt(-1) != BYTES + m)
            throw new PatchworkException(what + ": vocab_size " + root.path("vocab_size") + " does not match 256 + "
                    + m + " merges; the file is corrupt");
        try {
            return new BpeTokenizer(a, b);
        } catch (IllegalArgumentException e) {
            throw new PatchworkException(what + ": " + e.getMessage() + "; the file is corrupt");
        }
    }

    /** A growable int array for the token stream of one encode. */
    private static final class IdList {
        private int[] a;
        private int n;

        IdList(int capacity) {
            a = new int[capacity];
        }

        void addAll(int[] ids) {
            if (n + ids.length > a.length) a = Arrays.copyOf(a, Math.max(2 * a.length, n + ids.length));
            System.arraycopy(ids, 0, a, n, ids.length);
            n += ids.length;
        }

        int[] toArray() {
            return Arrays.copyOf(a, n);
        }
    }
}

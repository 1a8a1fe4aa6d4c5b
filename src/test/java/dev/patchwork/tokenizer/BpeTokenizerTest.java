package dev.patchwork.tokenizer;

import dev.patchwork.data.ByteTokens;
import dev.patchwork.patch.BpeDelimiterPatcher;
import dev.patchwork.patch.Patches;
import dev.patchwork.util.PatchworkException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

class BpeTokenizerTest {
    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** Text over a small alphabet (letters, digits, punctuation, spaces, newlines, a multi-byte letter, a stray 0xFF). */
    private static byte[] randomText(SplittableRandom r, int n) {
        String[] pieces = {"a", "b", "c", "ab", "ba", " ", " ", "  ", "\n", "1", "22", ".", ",!", "é", "\u00ff", "x"};
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        while (out.size() < n) {
            if (r.nextInt(20) == 0) out.write(0xFF); // invalid UTF-8
            else out.writeBytes(utf8(pieces[r.nextInt(pieces.length)]));
        }
        return out.toByteArray();
    }

    private static BpeTokenizer trained(long seed, int vocab) {
        return BpeTrainer.train(randomText(new SplittableRandom(seed), 4000), vocab);
    }

    @Test
    void wordsTileTheInputAndKeepTheLeadingSpace() {
        byte[] text = utf8("Hello, wörld  the 42x\n\n  end");
        List<String> words = new ArrayList<>();
        int[] next = {0};
        WordSplitter.split(text, 0, text.length, (s, e) -> {
            assertEquals(next[0], s, "words must tile the input");
            next[0] = e;
            words.add(new String(text, s, e - s, StandardCharsets.UTF_8));
        });
        assertEquals(text.length, next[0]);
        assertEquals(List.of("Hello", ",", " wörld", " ", " the", " 42", "x", "\n\n ", " end"), words);
    }

    @Test
    void roundTripIsExactForAnyBytes() {
        BpeTokenizer tok = trained(1, 400);
        assertTrue(tok.mergeCount() > 20, "the corpus should give merges, got " + tok.mergeCount());
        SplittableRandom r = new SplittableRandom(7);
        assertArrayEquals(new int[0], tok.encode(new byte[0]));
        assertArrayEquals(new byte[0], tok.decode(new int[0]));
        for (int trial = 0; trial < 50; trial++) {
            byte[] b = new byte[r.nextInt(300)];
            if (trial % 2 == 0) r.nextBytes(b); // arbitrary bytes: mostly invalid UTF-8
            else b = randomText(r, b.length);
            int[] ids = tok.encode(b);
            assertArrayEquals(b, tok.decode(ids), "trial " + trial);
            for (int id : ids) assertTrue(id >= 0 && id < tok.vocabSize());
        }
        byte[] invalid = {(byte) 0xC3, (byte) 0x28, (byte) 0xFF, (byte) 0xE2, (byte) 0x82, 0, '\n'};
        assertArrayEquals(invalid, tok.decode(tok.encode(invalid)));
    }

    @Test
    void mergesOnAHandMadeCorpusAreTheHandComputedOnes() {
        // words: "hug" x1, " hug" x2, " pug" x1, " pun" x1.
        // 1. (u,g) occurs 4 times -> 256; 2. (h,256) 3 times -> 257; 3. tie at 2 between (' ',p) and (' ',257):
        // the smaller right id wins -> (' ',p) = 258; 4. (' ',257) -> 259; every other pair occurs once: stop.
        BpeTokenizer tok = BpeTrainer.train(utf8("hug hug hug pug pun"), 1000);
        int[][] expected = {{'u', 'g'}, {'h', 256}, {' ', 'p'}, {' ', 257}};
        assertEquals(expected.length, tok.mergeCount());
        for (int r = 0; r < expected.length; r++) assertArrayEquals(expected[r], tok.merge(r), "merge " + r);
        assertArrayEquals(new int[]{257, 259, 258, 256}, tok.encode(utf8("hug hug pug")));
        // a smaller vocabulary keeps the first merges
        assertEquals(2, BpeTrainer.train(utf8("hug hug hug pug pun"), 258).mergeCount());
    }

    /** Training from scratch each step: recount every pair over all word occurrences, take the best. */
    private static List<int[]> naiveMerges(byte[] text, int merges) {
        Map<String, Integer> counts = new HashMap<>();
        List<int[]> words = new ArrayList<>();
        List<Integer> wordCounts = new ArrayList<>();
        WordSplitter.split(text, 0, text.length, (s, e) -> {
            String k = Arrays.toString(Arrays.copyOfRange(text, s, e));
            Integer at = counts.get(k);
            if (at == null) {
                counts.put(k, words.size());
                int[] w = new int[e - s];
                for (int i = 0; i < w.length; i++) w[i] = text[s + i] & 0xFF;
                words.add(w);
                wordCounts.add(1);
            } else {
                wordCounts.set(at, wordCounts.get(at) + 1);
            }
        });
        List<int[]> result = new ArrayList<>();
        for (int r = 0; r < merges; r++) {
            Map<Long, Long> pairs = new HashMap<>();
            for (int w = 0; w < words.size(); w++)
                for (int i = 0; i + 1 < words.get(w).length; i++)
                    pairs.merge(BpeTokenizer.pair(words.get(w)[i], words.get(w)[i + 1]), (long) wordCounts.get(w), Long::sum);
            long best = -1, bestCount = 0;
            for (var e : pairs.entrySet())
                if (e.getValue() > bestCount || (e.getValue() == bestCount && e.getKey() < best)) {
                    best = e.getKey();
                    bestCount = e.getValue();
                }
            if (bestCount < BpeTrainer.MIN_PAIR_COUNT) break;
            int a = (int) (best >>> 32), b = (int) best;
            result.add(new int[]{a, b});
            for (int w = 0; w < words.size(); w++) {
                int[] s = words.get(w);
                int n = BpeTokenizer.mergeAll(s, s.length, a, b, 256 + r);
                words.set(w, Arrays.copyOf(s, n));
            }
        }
        return result;
    }

    @Test
    void incrementalTrainingEqualsRecountingFromScratch() {
        for (long seed = 0; seed < 4; seed++) {
            byte[] text = randomText(new SplittableRandom(seed), 3000);
            BpeTokenizer tok = BpeTrainer.train(text, 256 + 120);
            List<int[]> naive = naiveMerges(text, 120);
            assertEquals(naive.size(), tok.mergeCount(), "seed " + seed);
            for (int r = 0; r < naive.size(); r++) assertArrayEquals(naive.get(r), tok.merge(r), "seed " + seed + " merge " + r);
        }
    }

    /** The definition: split into words, then apply every merge in rank order to each word. */
    private static int[] naiveEncode(BpeTokenizer tok, byte[] text) {
        List<Integer> out = new ArrayList<>();
        WordSplitter.split(text, 0, text.length, (s, e) -> {
            int[] w = new int[e - s];
            for (int i = 0; i < w.length; i++) w[i] = text[s + i] & 0xFF;
            int n = w.length;
            for (int r = 0; r < tok.mergeCount(); r++) n = BpeTokenizer.mergeAll(w, n, tok.merge(r)[0], tok.merge(r)[1], 256 + r);
            for (int i = 0; i < n; i++) out.add(w[i]);
        });
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    @Test
    void encodeAppliesMergesByRankAndIsDeterministic() {
        BpeTokenizer tok = trained(3, 500);
        SplittableRandom r = new SplittableRandom(11);
        for (int trial = 0; trial < 30; trial++) {
            byte[] text = randomText(r, 1 + r.nextInt(400));
            int[] ids = tok.encode(text);
            assertArrayEquals(naiveEncode(tok, text), ids, "trial " + trial);
            assertArrayEquals(ids, tok.encode(text), "same tokenizer, same text");
            assertArrayEquals(ids, new BpeTokenizer(merges(tok, 0), merges(tok, 1)).encode(text), "fresh instance (no cache)");
        }
        assertArrayEquals(trained(3, 500).encode(utf8("abba ab 22")), tok.encode(utf8("abba ab 22")), "training is deterministic");
    }

    private static int[] merges(BpeTokenizer tok, int side) {
        int[] a = new int[tok.mergeCount()];
        for (int r = 0; r < a.length; r++) a[r] = tok.merge(r)[side];
        return a;
    }

    @Test
    void tokenStartsAreTheByteOffsetsOfTheTokens() {
        BpeTokenizer tok = trained(5, 400);
        byte[] text = randomText(new SplittableRandom(9), 500);
        int[] ids = tok.encode(text), starts = tok.tokenStarts(text);
        assertEquals(ids.length, starts.length);
        for (int i = 0; i < ids.length; i++) {
            int end = i + 1 < ids.length ? starts[i + 1] : text.length;
            assertArrayEquals(tok.tokenBytes(ids[i]), Arrays.copyOfRange(text, starts[i], end), "token " + i);
        }
    }

    @Test
    void bpeDelimiterPatchesCoincideWithTheTokens() {
        BpeTokenizer tok = trained(6, 450);
        byte[] text = randomText(new SplittableRandom(12), 600);
        int[] tokens = tok.encode(text);
        int[] ids = tok.delimitedIds(text, true);
        assertEquals(1 + tokens.length + text.length, ids.length);
        Patches p = new BpeDelimiterPatcher(0).patch(ids, null, false);
        // patches: BOS, the first delimiter, then one per token: its bytes followed by the next token's delimiter
        assertEquals(tokens.length + 2, p.count());
        int[] starts = p.starts();
        assertEquals(ByteTokens.BOS, ids[starts[0]]);
        assertEquals(ByteTokens.BPE_DELIM, ids[starts[1]]);
        for (int t = 0; t < tokens.length; t++) {
            int s = starts[t + 2], len = p.length(t + 2);
            int bytes = t + 1 < tokens.length ? len - 1 : len;
            int[] patchBytes = Arrays.copyOfRange(ids, s, s + bytes);
            assertArrayEquals(ByteTokens.encode(tok.tokenBytes(tokens[t]), false, false), patchBytes, "token " + t);
            if (t + 1 < tokens.length) assertEquals(ByteTokens.BPE_DELIM, ids[s + len - 1]);
        }
    }

    @Test
    void saveAndLoadGiveTheSameTokenizer(@TempDir Path dir) throws IOException {
        BpeTokenizer tok = trained(8, 380);
        Path f = dir.resolve("tok.json");
        tok.save(f);
        BpeTokenizer back = BpeTokenizer.load(f);
        assertEquals(tok.vocabSize(), back.vocabSize());
        for (int r = 0; r < tok.mergeCount(); r++) assertArrayEquals(tok.merge(r), back.merge(r));
        byte[] text = randomText(new SplittableRandom(2), 300);
        assertArrayEquals(tok.encode(text), back.encode(text));
        assertEquals(tok.toJson(), BpeTokenizer.fromJson(dev.patchwork.util.Json.MAPPER.readTree(tok.toJson()), "x").toJson());
        BpeTokenizer bytesOnly = new BpeTokenizer(new int[0], new int[0]);
        assertEquals(256, BpeTokenizer.fromJson(dev.patchwork.util.Json.MAPPER.readTree(bytesOnly.toJson()), "x").vocabSize());
        tok.save(f); // overwriting is atomic and leaves no temporary file behind
        try (var files = Files.list(dir)) {
            assertEquals(List.of(f), files.toList());
        }
    }

    @Test
    void corruptFilesGiveClearErrors(@TempDir Path dir) throws IOException {
        BpeTokenizer tok = BpeTrainer.train(utf8("hug hug hug pug pun"), 300);
        String good = tok.toJson();
        Map<String, String> cases = new java.util.LinkedHashMap<>();
        cases.put("not valid JSON", good.substring(0, good.length() / 2));
        cases.put("'format' is not", good.replace("patchwork-bpe", "other"));
        cases.put("unsupported version", good.replace("\"version\": 1", "\"version\": 9"));
        cases.put("does not match 256 + 4 merges", good.replace("\"vocab_size\": 260", "\"vocab_size\": 261"));
        cases.put("merges[0] must be a pair", good.replaceFirst("\\[\\s*117,\\s*103\\s*]", "[117]"));
        cases.put("only ids 0..255 exist", good.replaceFirst("\\[\\s*117,\\s*103\\s*]", "[117, 300]"));
        cases.put("repeats the pair", good.replaceFirst("\\[\\s*104,\\s*256\\s*]", "[117, 103]"));
        for (var c : cases.entrySet()) {
            assertNotEquals(good, c.getValue(), "the corruption must change the file: " + c.getKey());
            Path f = dir.resolve("bad.json");
            Files.writeString(f, c.getValue());
            var e = assertThrows(PatchworkException.class, () -> BpeTokenizer.load(f), c.getKey());
            assertTrue(e.getMessage().contains(c.getKey()), "'" + e.getMessage() + "' should say " + c.getKey());
        }
        var missing = assertThrows(PatchworkException.class, () -> BpeTokenizer.load(dir.resolve("none.json")));
        assertTrue(missing.getMessage().contains("not found"));
        assertThrows(IllegalArgumentException.class, () -> tok.decode(new int[]{260}));
        assertThrows(IllegalArgumentException.class, () -> BpeTrainer.train(new byte[0], 255));
    }
}

package dev.patchwork.tokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Set;

/**
 * Learns byte-level BPE merges from a corpus. The text is cut into words ({@link WordSplitter}) and only the distinct
 * words and their counts are kept; then, until the vocabulary is full, the most frequent adjacent pair (counted over
 * all word occurrences, overlapping pairs included) becomes a new token and is merged in every word, left to right,
 * non-overlapping, as {@link BpeTokenizer#encode} will apply it.
 *
 * <p>Speed: pair counts are updated incrementally, only in the words that hold the merged pair (an index from pair to
 * words), and the best pair comes from a priority queue whose outdated entries are skipped when they surface.
 * Deterministic: ties between equally frequent pairs go to the smallest (left, right) ids. Training stops early when
 * no pair occurs at least {@link #MIN_PAIR_COUNT} times (a pair seen once does not generalise).
 */
public final class BpeTrainer {
    /** Pairs rarer than this are never merged. */
    public static final long MIN_PAIR_COUNT = 2;

    private final Map<ByteString, long[]> wordCounts = new HashMap<>();
    private long bytes;

    /** Counts the words of {@code text}. */
    public void add(byte[] text) {
        add(text, 0, text.length);
    }

    /** Counts the words of {@code text[from, to)}. */
    public void add(byte[] text, int from, int to) {
        WordSplitter.split(text, from, to, (s, e) -> wordCounts.computeIfAbsent(new ByteString(text, s, e), k -> new long[1])[0]++);
        bytes += to - from;
    }

    /** Bytes added so far. */
    public long bytes() {
        return bytes;
    }

    /** Distinct words seen so far. */
    public int wordTypes() {
        return wordCounts.size();
    }

    /** Learns merges on {@code text} alone. */
    public static BpeTokenizer train(byte[] text, int vocabSize) {
        BpeTrainer t = new BpeTrainer();
        t.add(text);
        return t.train(vocabSize);
    }

    /**
     * Learns up to {@code vocabSize - 256} merges over the words added so far.
     *
     * @throws IllegalArgumentException if {@code vocabSize < 256}
     */
    public BpeTokenizer train(int vocabSize) {
        if (vocabSize < BpeTokenizer.BYTES)
            throw new IllegalArgumentException("vocab size must be >= 256 (the byte tokens), got " + vocabSize);
        int wordCount = wordCounts.size();
        int[][] words = new int[wordCount][];
        int[] lengths = new int[wordCount];
        long[] counts = new long[wordCount];
        int w = 0;
        for (Map.Entry<ByteString, long[]> e : wordCounts.entrySet()) {
            byte[] b = e.getKey().bytes;
            words[w] = new int[b.length];
            for (int i = 0; i < b.length; i++) words[w][i] = b[i] & 0xFF;
            lengths[w] = b.length;
            counts[w++] = e.getValue()[0];
        }
        Map<Long, long[]> pairCounts = new HashMap<>();
        Map<Long, List<Integer>> wordsWithPair = new HashMap<>();
        for (w = 0; w < wordCount; w++) {
            countPairs(words[w], lengths[w], counts[w], pairCounts, null);
            for (int i = 0; i + 1 < lengths[w]; i++)
                wordsWithPair.computeIfAbsent(BpeTokenizer.pair(words[w][i], words[w][i + 1]), k -> new ArrayList<>()).add(w);
        }
        // best first: higher count, then smaller pair key = smaller (left, right)
        PriorityQueue<long[]> queue = new PriorityQueue<>((x, y) -> x[0] != y[0] ? Long.compare(y[0], x[0]) : Long.compare(x[1], y[1]));
        for (Map.Entry<Long, long[]> e : pairCounts.entrySet()) queue.add(new long[]{e.getValue()[0], e.getKey()});

        int merges = vocabSize - BpeTokenizer.BYTES;
        int[] left = new int[merges], right = new int[merges];
        int[] touched = new int[wordCount];
        Arrays.fill(touched, -1);
        int r = 0;
        Set<Long> changed = new HashSet<>();
        while (r < merges && !queue.isEmpty()) {
            long[] top = queue.poll();
            long[] current = pairCounts.get(top[1]);
            if (current == null || current[0] != top[0]) continue; // outdated entry: a fresher one is in the queue
            if (top[0] < MIN_PAIR_COUNT) break;
            int a = (int) (top[1] >>> 32), b = (int) top[1], id = BpeTokenizer.BYTES + r;
            left[r] = a;
            right[r] = b;
            changed.clear();
            for (int v : wordsWithPair.remove(top[1])) {
                if (touched[v] == r) continue; // listed once per occurrence of the pair
                touched[v] = r;
                countPairs(words[v], lengths[v], -counts[v], pairCounts, changed);
                lengths[v] = BpeTokenizer.mergeAll(words[v], lengths[v], a, b, id);
                countPairs(words[v], lengths[v], counts[v], pairCounts, changed);
                for (int i = 0; i + 1 < lengths[v]; i++)
                    if (words[v][i] == id || words[v][i + 1] == id)
                        wordsWithPair.computeIfAbsent(BpeTokenizer.pair(words[v][i], words[v][i + 1]), k -> new ArrayList<>()).add(v);
            }
            pairCounts.remove(top[1]); // merged everywhere: the pair cannot form again (new pairs all hold the new id)
            for (long p : changed) {
                long[] c = pairCounts.get(p);
                if (c != null && c[0] > 0) queue.add(new long[]{c[0], p});
            }
            r++;
        }
        return new BpeTokenizer(Arrays.copyOf(left, r), Arrays.copyOf(right, r));
    }

    /** Adds {@code delta} to the count of every adjacent pair of {@code s[0, n)}, noting the pairs in {@code changed}. */
    private static void countPairs(int[] s, int n, long delta, Map<Long, long[]> pairCounts, Set<Long> changed) {
        for (int i = 0; i + 1 < n; i++) {
            long p = BpeTokenizer.pair(s[i], s[i + 1]);
            long[] c = pairCounts.computeIfAbsent(p, k -> new long[1]);
            c[0] += delta;
            if (c[0] == 0) pairCounts.remove(p);
            if (changed != null) changed.add(p);
        }
    }
}

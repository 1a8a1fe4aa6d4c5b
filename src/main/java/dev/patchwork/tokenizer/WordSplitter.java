package dev.patchwork.tokenizer;

/**
 * Cuts bytes into the "words" that BPE merges never cross, by a fixed rule close to GPT-2's pre-tokenizer but without
 * a regex and over raw bytes: runs of letters, runs of digits, runs of punctuation, each optionally led by one space,
 * and runs of whitespace. A whitespace run followed by a word gives its last space to that word ({@code " the"}), as
 * GPT-2 does. Every byte {@code >= 0x80} counts as a letter, so the UTF-8 encoding of a non-ASCII word stays one word
 * (and so does invalid UTF-8: any byte sequence splits, and the words always cover the input exactly).
 */
final class WordSplitter {
    static final int LETTER = 0, DIGIT = 1, SPACE = 2, PUNCT = 3;
    private static final byte[] CLASS = new byte[256];

    static {
        for (int b = 0; b < 256; b++) {
            int c;
            if ((b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || b >= 0x80) c = LETTER;
            else if (b >= '0' && b <= '9') c = DIGIT;
            else if (b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == 0x0B || b == 0x0C) c = SPACE;
            else c = PUNCT;
            CLASS[b] = (byte) c;
        }
    }

    /** Receives each word as a range of the input. */
    @FunctionalInterface
    interface WordSink {
        void word(int start, int end);
    }

    private WordSplitter() {}

    static int classOf(byte b) {
        return CLASS[b & 0xFF];
    }

    /** Calls {@code sink} with every word of {@code bytes[from, to)}, in order; the words tile the range. */
    static void split(byte[] bytes, int from, int to, WordSink sink) {
        int i = from;
        while (i < to) {
            int c = classOf(bytes[i]);
            int j;
            if (bytes[i] == ' ' && i + 1 < to && classOf(bytes[i + 1]) != SPACE) {
                // one space leading a word: the word's class is that of the byte after the space
                c = classOf(bytes[i + 1]);
                j = i + 2;
                while (j < to && classOf(bytes[j]) == c) j++;
            } else if (c == SPACE) {
                j = i + 1;
                while (j < to && classOf(bytes[j]) == SPACE) j++;
                // leave the run's last space to the word that follows (it starts that word, see above)
                if (j < to && j - 1 > i && bytes[j - 1] == ' ') j--;
            } else {
                j = i + 1;
                while (j < to && classOf(bytes[j]) == c) j++;
            }
            sink.word(i, j);
            i = j;
        }
    }
}

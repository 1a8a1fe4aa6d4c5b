package dev.patchwork.tokenizer;

import java.util.Arrays;

/** An immutable byte sequence usable as a hash key (a word of the corpus, or of the text being encoded). */
final class ByteString {
    final byte[] bytes;
    private final int hash;

    ByteString(byte[] source, int from, int to) {
        this.bytes = Arrays.copyOfRange(source, from, to);
        this.hash = Arrays.hashCode(bytes);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ByteString s && s.hash == hash && Arrays.equals(s.bytes, bytes);
    }

    @Override
    public int hashCode() {
        return hash;
    }
}

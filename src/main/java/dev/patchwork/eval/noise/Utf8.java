package dev.patchwork.eval.noise;

import java.io.ByteArrayOutputStream;

/**
 * Strict UTF-8 decoding of one code point at a time (RFC 3629: no overlong forms, no surrogates, nothing above
 * U+10FFFF), so that the noise can tell characters from bytes that are not text.
 */
final class Utf8 {
    private Utf8() {}

    /** Length (1–4) of the valid UTF-8 sequence starting at {@code i}, or 0 if the byte there does not start one. */
    static int sequenceLength(byte[] b, int i) {
        int b0 = b[i] & 0xff;
        if (b0 < 0x80) return 1;
        int n;
        int min; // smallest code point that needs n bytes: anything less would be an overlong form
        if (b0 >= 0xc2 && b0 <= 0xdf) { n = 2; min = 0x80; }
        else if (b0 >= 0xe0 && b0 <= 0xef) { n = 3; min = 0x800; }
        else if (b0 >= 0xf0 && b0 <= 0xf4) { n = 4; min = 0x10000; }
        else return 0;
        if (i + n > b.length) return 0;
        for (int k = 1; k < n; k++) if ((b[i + k] & 0xc0) != 0x80) return 0;
        int cp = decode(b, i, n);
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
        return n;
    }

    /** The code point of the valid {@code n}-byte sequence at {@code i}. */
    static int decode(byte[] b, int i, int n) {
        if (n == 1) return b[i] & 0xff;
        int cp = b[i] & (0xff >> (n + 1));
        for (int k = 1; k < n; k++) cp = (cp << 6) | (b[i + k] & 0x3f);
        return cp;
    }

    static void encode(int cp, ByteArrayOutputStream out) {
        if (cp < 0x80) {
            out.write(cp);
        } else if (cp < 0x800) {
            out.write(0xc0 | cp >> 6);
            out.write(0x80 | cp & 0x3f);
        } else if (cp < 0x10000) {
            out.write(0xe0 | cp >> 12);
            out.write(0x80 | cp >> 6 & 0x3f);
            out.write(0x80 | cp & 0x3f);
        } else {
            out.write(0xf0 | cp >> 18);
            out.write(0x80 | cp >> 12 & 0x3f);
            out.write(0x80 | cp >> 6 & 0x3f);
            out.write(0x80 | cp & 0x3f);
        }
    }
}

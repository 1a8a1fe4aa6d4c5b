package dev.patchwork.eval.noise;

import java.io.ByteArrayOutputStream;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * The character-level noise of the BLT paper's robustness study (arXiv 2412.09871 v1, §6.1 "Noisy Data", the noised
 * HellaSwag of Table 3), applied to raw bytes:
 * <ul>
 *   <li>{@code random-case}: "converts 50% of the characters to uppercase and 50% to lowercase randomly". Here every
 *       cased character has its case swapped with probability p (default 0.5): at p = 0.5 each letter ends up upper or
 *       lower case with equal odds whatever it was, which is the paper's transformation, and p = 0 is the identity;</li>
 *   <li>{@code drop}: "randomly removes 10% of the characters": each character is dropped with probability p
 *       (default 0.1);</li>
 *   <li>{@code repeat}: "repeats 20% of the characters up to a maximum of four times": each character is, with
 *       probability p (default 0.2), written 2, 3 or 4 times in all (uniformly);</li>
 *   <li>{@code uppercase}: "transforms all characters in the text to uppercase" (p is not used);</li>
 *   <li>{@code antspeak}: "converts the entire text into uppercase, space-separated characters": upper case, one space
 *       between consecutive characters (p is not used).</li>
 * </ul>
 * The probabilities are the paper's; the exact sampling (independent per-character draws, the 2–4 copies of repeat)
 * is this class's reading of its one-line descriptions. The project spec ({@code blt.md} §10) records only Table 3's
 * scores, not these definitions: the quotes above were not checked against the paper's text in this repository.
 *
 * <p>Characters are Unicode code points decoded from UTF-8 (case mapping is {@link Character#toUpperCase(int)}'s
 * one-to-one mapping, locale-independent, so 'ß' stays 'ß'). A byte that does not start a valid UTF-8 sequence is kept
 * as it is: never case-mapped, dropped or repeated (antspeak still spaces it like a character). The result is a pure
 * function of the input bytes and the random stream, so a seed fixes it.
 *
 * @param probability per-character probability (ignored by uppercase and antspeak)
 */
public record Noise(Kind kind, double probability) {
    /** The five transformations, with the paper's per-character probabilities. */
    public enum Kind {
        RANDOM_CASE("random-case", 0.5), DROP("drop", 0.1), REPEAT("repeat", 0.2), UPPERCASE("uppercase", 0), ANTSPEAK("antspeak", 0);

        private final String cliName;
        private final double paperProbability;

        Kind(String cliName, double paperProbability) {
            this.cliName = cliName;
            this.paperProbability = paperProbability;
        }

        /** The name used on the command line and in configs. */
        public String cliName() {
            return cliName;
        }

        public double paperProbability() {
            return paperProbability;
        }
    }

    /** Most copies {@code repeat} writes of a chosen character (the paper's "up to a maximum of four times"). */
    public static final int MAX_REPEAT = 4;

    public Noise {
        if (kind == null) throw new IllegalArgumentException("noise kind is missing: use one of " + names());
        if (!(probability >= 0 && probability <= 1)) throw new IllegalArgumentException("noise probability must be in [0, 1], got " + probability);
    }

    /** A transformation by its command-line name, with the paper's probability. */
    public static Noise parse(String name) {
        for (Kind k : Kind.values()) if (k.cliName.equals(name.trim().toLowerCase(Locale.ROOT))) return new Noise(k, k.paperProbability);
        throw new IllegalArgumentException("unknown noise '" + name + "': use one of " + names());
    }

    /** The transformation names, comma-separated (for messages and help). */
    public static String names() {
        StringBuilder b = new StringBuilder();
        for (Kind k : Kind.values()) b.append(b.isEmpty() ? "" : ", ").append(k.cliName);
        return b.toString();
    }

    public String name() {
        return kind.cliName;
    }

    /** The noised text for a seed. */
    public byte[] apply(byte[] text, long seed) {
        return apply(text, new SplittableRandom(seed));
    }

    /** The noised text, drawing from {@code random} (uppercase and antspeak draw nothing). */
    public byte[] apply(byte[] text, SplittableRandom random) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(text.length + text.length / 4 + 16);
        boolean first = true;
        for (int i = 0; i < text.length; ) {
            int n = Utf8.sequenceLength(text, i);
            if (n == 0) { // not valid UTF-8 here: the byte passes through untouched
                if (kind == Kind.ANTSPEAK && !first) out.write(' ');
                out.write(text[i]);
                i++;
                first = false;
                continue;
            }
            int cp = Utf8.decode(text, i, n);
            i += n;
            switch (kind) {
                case RANDOM_CASE -> Utf8.encode(random.nextDouble() < probability ? swapCase(cp) : cp, out);
                case DROP -> {
                    if (!(random.nextDouble() < probability)) Utf8.encode(cp, out);
                }
                case REPEAT -> {
                    int copies = random.nextDouble() < probability ? 2 + random.nextInt(MAX_REPEAT - 1) : 1;
                    for (int c = 0; c < copies; c++) Utf8.encode(cp, out);
                }
                case UPPERCASE -> Utf8.encode(Character.toUpperCase(cp), out);
                case ANTSPEAK -> {
                    if (!first) out.write(' ');
                    Utf8.encode(Character.toUpperCase(cp), out);
                }
            }
            first = false;
        }
        return out.toByteArray();
    }

    /** Upper case for a lower-case letter, lower case for an upper-case one, else unchanged. */
    static int swapCase(int cp) {
        int upper = Character.toUpperCase(cp);
        return upper != cp ? upper : Character.toLowerCase(cp);
    }

    @Override
    public String toString() {
        return kind == Kind.UPPERCASE || kind == Kind.ANTSPEAK ? kind.cliName : kind.cliName + " (p=" + probability + ")";
    }
}

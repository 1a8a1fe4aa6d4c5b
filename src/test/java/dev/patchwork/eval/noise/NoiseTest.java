package dev.patchwork.eval.noise;

import dev.patchwork.data.CorpusSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

class NoiseTest {
    private static final byte[] INVALID = {(byte) 0xff, (byte) 0xc0, (byte) 0x80, (byte) 0xed, (byte) 0xa0, (byte) 0x80};

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static String text(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }

    private static Noise noise(Noise.Kind k, double p) {
        return new Noise(k, p);
    }

    @Test
    void uppercaseAndAntspeakHandChecked() {
        assertEquals("HELLO, WORLD É!", text(Noise.parse("uppercase").apply(utf8("Hello, world é!"), 1)));
        assertEquals("A B   C", text(Noise.parse("antspeak").apply(utf8("ab c"), 1)));
        assertEquals("Ä Ö \n X", text(Noise.parse("antspeak").apply(utf8("äö\nx"), 7)));
        // one-to-one case mapping: ß has no single upper-case code point and stays
        assertEquals("STRAßE", text(Noise.parse("uppercase").apply(utf8("straße"), 1)));
    }

    @Test
    void probabilityOneAndZeroAreHandCheckable() {
        byte[] s = utf8("aB c-Éé 😀");
        for (Noise.Kind k : List.of(Noise.Kind.RANDOM_CASE, Noise.Kind.DROP, Noise.Kind.REPEAT))
            assertArrayEquals(s, noise(k, 0).apply(s, 42), k + " at p=0 must be the identity");
        assertEquals("Ab C-éÉ 😀", text(noise(Noise.Kind.RANDOM_CASE, 1).apply(s, 42)));
        assertEquals("", text(noise(Noise.Kind.DROP, 1).apply(s, 42)));
        String repeated = text(noise(Noise.Kind.REPEAT, 1).apply(s, 42));
        // every character 2..4 times in a row, in order
        int[] cps = "aB c-Éé 😀".codePoints().toArray();
        int[] out = repeated.codePoints().toArray();
        int j = 0;
        for (int cp : cps) {
            int run = 0;
            while (j < out.length && out[j] == cp) { j++; run++; }
            assertTrue(run >= 2 && run <= Noise.MAX_REPEAT, "run of " + Character.toString(cp) + " = " + run);
        }
        assertEquals(out.length, j);
    }

    @Test
    void paperRatesOnLongText() {
        byte[] s = utf8("the quick brown fox jumps over the lazy dog ".repeat(500));
        int letters = 0;
        for (byte b : s) if (Character.isLetter(b)) letters++;
        byte[] cased = Noise.parse("random-case").apply(s, 3);
        assertEquals(s.length, cased.length);
        int upper = 0;
        for (byte b : cased) if (Character.isUpperCase(b)) upper++;
        assertEquals(0.5, upper / (double) letters, 0.03, "random-case: half the letters upper case");
        double kept = Noise.parse("drop").apply(s, 3).length / (double) s.length;
        assertEquals(0.9, kept, 0.02, "drop: 10% of the characters removed");
        double grown = Noise.parse("repeat").apply(s, 3).length / (double) s.length;
        assertEquals(1 + 0.2 * 2, grown, 0.03, "repeat: 20% of the characters get 1..3 extra copies (2 on average)");
    }

    @Test
    void invalidUtf8BytesArePreserved() {
        ByteArrayOutputStream in = new ByteArrayOutputStream();
        in.writeBytes(utf8("ab"));
        in.writeBytes(INVALID);
        in.writeBytes(utf8("Cd"));
        in.write(0xe2); // truncated 3-byte sequence at the end
        in.write(0x82);
        byte[] s = in.toByteArray();
        byte[] upper = Noise.parse("uppercase").apply(s, 1);
        byte[] expected = s.clone();
        expected[0] = 'A';
        expected[1] = 'B';
        expected[9] = 'D';
        assertArrayEquals(expected, upper);
        // drop everything and repeat everything: the invalid bytes are left exactly as they were, once each
        ByteArrayOutputStream onlyInvalid = new ByteArrayOutputStream();
        onlyInvalid.writeBytes(INVALID);
        onlyInvalid.write(0xe2);
        onlyInvalid.write(0x82);
        assertArrayEquals(onlyInvalid.toByteArray(), noise(Noise.Kind.DROP, 1).apply(s, 5));
        byte[] rep = noise(Noise.Kind.REPEAT, 1).apply(s, 5);
        assertTrue(indexOf(rep, INVALID) >= 0, "the invalid run survives repeat unchanged");
        byte[] cased = noise(Noise.Kind.RANDOM_CASE, 1).apply(s, 5);
        assertArrayEquals(upper.length == cased.length ? Arrays.copyOfRange(s, 2, 8) : null, Arrays.copyOfRange(cased, 2, 8));
        byte[] ant = Noise.parse("antspeak").apply(new byte[]{(byte) 0xff, 'a'}, 1);
        assertArrayEquals(new byte[]{(byte) 0xff, ' ', 'A'}, ant);
    }

    @Test
    void deterministicForASeedAndSeedsDiffer() {
        SplittableRandom r = new SplittableRandom(11);
        byte[] s = new byte[5000];
        for (int i = 0; i < s.length; i++) s[i] = (byte) (r.nextInt(10) == 0 ? r.nextInt(256) : 'a' + r.nextInt(26));
        for (Noise.Kind k : List.of(Noise.Kind.RANDOM_CASE, Noise.Kind.DROP, Noise.Kind.REPEAT)) {
            Noise n = new Noise(k, k.paperProbability());
            assertArrayEquals(n.apply(s, 9), n.apply(s, 9), k.cliName());
            assertFalse(Arrays.equals(n.apply(s, 9), n.apply(s, 10)), k.cliName() + ": another seed, other noise");
        }
    }

    @Test
    void badNamesAndProbabilitiesRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Noise.parse("shout"));
        assertTrue(e.getMessage().contains("random-case, drop, repeat, uppercase, antspeak"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new Noise(Noise.Kind.DROP, 1.5));
        assertEquals(Noise.Kind.RANDOM_CASE, Noise.parse("Random-Case").kind());
    }

    @Test
    void noisedCorpusKeepsDocumentOrderAndIsDeterministic(@TempDir Path tmp) throws Exception {
        Path src = tmp.resolve("src");
        Files.createDirectories(src);
        Files.writeString(src.resolve("a.txt"), "first document");
        Files.writeString(src.resolve("b.txt"), "second one");
        Path out;
        List<String> docs = new ArrayList<>();
        try (NoisedCorpus n = NoisedCorpus.temporary(CorpusSource.of(src), Noise.parse("uppercase"), 1)) {
            out = n.directory();
            assertEquals(2, n.documents());
            n.source().forEachDocument((name, in) -> docs.add(new String(in.readAllBytes(), StandardCharsets.UTF_8)));
        }
        assertEquals(List.of("FIRST DOCUMENT", "SECOND ONE"), docs);
        assertFalse(Files.exists(out), "a temporary noised corpus is deleted on close");
        try (NoisedCorpus a = NoisedCorpus.into(CorpusSource.of(src), Noise.parse("drop"), 4, tmp.resolve("a"));
             NoisedCorpus b = NoisedCorpus.into(CorpusSource.of(src), Noise.parse("drop"), 4, tmp.resolve("b"))) {
            for (int d = 0; d < 2; d++)
                assertArrayEquals(Files.readAllBytes(a.directory().resolve(NoisedCorpus.fileName(d))),
                        Files.readAllBytes(b.directory().resolve(NoisedCorpus.fileName(d))));
        }
    }

    private static int indexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i++) {
            for (int j = 0; j < needle.length; j++) if (hay[i + j] != needle[j]) continue outer;
            return i;
        }
        return -1;
    }
}

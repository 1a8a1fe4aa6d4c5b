package dev.patchwork.data;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ByteTokensTest {
    @Test
    void constantsMatchTheReference() {
        assertEquals(0, ByteTokens.BOE);
        assertEquals(1, ByteTokens.BOS);
        assertEquals(2, ByteTokens.EOS);
        assertEquals(3, ByteTokens.BPE_DELIM);
        assertEquals(4, ByteTokens.OFFSET);
        assertEquals(-1, ByteTokens.PAD);
        assertEquals(260, ByteTokens.VOCAB_SIZE);
    }

    @Test
    void encodeShiftsEveryByteByFourAndAddsBosEos() {
        byte[] bytes = new byte[256];
        for (int i = 0; i < 256; i++) bytes[i] = (byte) i;
        int[] ids = ByteTokens.encode(bytes, true, true);
        assertEquals(258, ids.length);
        assertEquals(ByteTokens.BOS, ids[0]);
        assertEquals(ByteTokens.EOS, ids[257]);
        for (int i = 0; i < 256; i++) assertEquals(i + 4, ids[i + 1]);
        assertArrayEquals(new int[] {'h' + 4, 'i' + 4}, ByteTokens.encode("hi", false, false));
        assertArrayEquals(new int[] {1, 'a' + 4}, ByteTokens.encode("a", true, false));
        assertArrayEquals(new int[] {0xC3 + 4, 0xA9 + 4, 2}, ByteTokens.encode("é", false, true));
    }

    @Test
    void decodeDropsSpecialIdsAndPadAndRoundTripsRandomBytes() {
        SplittableRandom r = new SplittableRandom(7);
        byte[] bytes = new byte[1001];
        r.nextBytes(bytes);
        assertArrayEquals(bytes, ByteTokens.decode(ByteTokens.encode(bytes, true, true)));
        int[] mixed = {ByteTokens.BOE, ByteTokens.BOS, 'x' + 4, ByteTokens.BPE_DELIM, ByteTokens.PAD, 'y' + 4, 2};
        assertArrayEquals("xy".getBytes(StandardCharsets.US_ASCII), ByteTokens.decode(mixed));
    }

    @Test
    void decodeRejectsIdsOutsideTheVocabulary() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ByteTokens.decode(new int[] {5, 260}));
        assertTrue(e.getMessage().contains("id 260 at index 1"), e.getMessage());
    }

    @Test
    void utf8DecodingIgnoresOrReplacesInvalidSequences() {
        String text = "naïve ☃ 𝄞";
        assertEquals(text, ByteTokens.decodeUtf8(ByteTokens.encode(text, true, true)));
        // "a", a lone continuation byte, "b", then a truncated 3-byte sequence.
        int[] ids = {'a' + 4, 0x80 + 4, 'b' + 4, 0xE2 + 4, 0x98 + 4};
        assertEquals("ab", ByteTokens.decodeUtf8(ids));
        String replaced = ByteTokens.decodeUtf8(ids, true);
        assertTrue(replaced.startsWith("a\uFFFDb\uFFFD"), replaced);
    }
}

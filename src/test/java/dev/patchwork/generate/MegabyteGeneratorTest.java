package dev.patchwork.generate;

import dev.patchwork.data.ByteTokens;
import dev.patchwork.model.Megabyte;
import dev.patchwork.model.MegabyteConfig;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Generation with the session against argmax of a full forward pass at every step. */
class MegabyteGeneratorTest {
    static final MegabyteConfig CONFIG = new MegabyteConfig(4, 8, 2, 2, 16, 2, 2, null, 16, 64, 260, 1e-5, 10000.0, 5L);

    /** Greedy decoding without a cache: the whole prefix through {@link Megabyte#forward} for every new id. */
    static int[] greedyByFullForward(Megabyte m, int[] prefix, int steps) {
        int[] ids = Arrays.copyOf(prefix, prefix.length + steps);
        int n = prefix.length;
        for (int s = 0; s < steps; s++) {
            // the logits at position n see ids < n only, so the ids padded after it do not matter
            int T = (n + 1 + CONFIG.patchSize() - 1) / CONFIG.patchSize() * CONFIG.patchSize();
            int[] window = Arrays.copyOf(ids, T);
            float[] logits = m.forward(window, 1, T);
            ids[n] = Sampler.argmax(Arrays.copyOfRange(logits, n * m.vocab(), (n + 1) * m.vocab()), m.vocab());
            n++;
        }
        return Arrays.copyOfRange(ids, prefix.length, n);
    }

    @Test
    void greedyGenerationMatchesTheFullForwardAcrossPatchBoundaries() {
        Megabyte m = Megabyte.initialise(CONFIG);
        byte[] prompt = "hello".getBytes(StandardCharsets.UTF_8);
        int steps = 30; // BOS + 5 + 30 ids: 9 patches, within the 64-position context
        ByteLmGenerator.Result r = new MegabyteGenerator(m).generate(prompt, steps, false, SamplingOptions.greedy(), b -> true);
        assertEquals(steps, r.steps());
        int[] expected = greedyByFullForward(m, ByteTokens.encode(prompt, true, false), steps);
        int[] bytes = Arrays.stream(expected).filter(id -> id >= ByteTokens.OFFSET).map(id -> id - ByteTokens.OFFSET).toArray();
        int[] got = new int[r.bytes().length];
        for (int i = 0; i < got.length; i++) got[i] = r.bytes()[i] & 0xff;
        assertArrayEquals(bytes, got);
    }

    @Test
    void generationContinuesPastTheContextAndSamplingIsSeeded() {
        Megabyte m = Megabyte.initialise(CONFIG);
        var options = new SamplingOptions(1.0, 0, 1, 9);
        ByteLmGenerator.Result a = new MegabyteGenerator(m).generate(new byte[0], 150, false, options, b -> true);
        ByteLmGenerator.Result b = new MegabyteGenerator(m).generate(new byte[0], 150, false, options, b2 -> true);
        assertEquals(150, a.steps()); // more than twice the 64-position context: the session restarts
        assertTrue(a.bytes().length > 100);
        assertArrayEquals(a.bytes(), b.bytes());
    }
}

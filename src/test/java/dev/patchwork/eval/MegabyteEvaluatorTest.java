package dev.patchwork.eval;

import dev.patchwork.data.ByteTokens;
import dev.patchwork.data.CorpusSource;
import dev.patchwork.model.Megabyte;
import dev.patchwork.model.MegabyteConfig;
import dev.patchwork.util.PatchworkException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Bits per byte of MEGABYTE: BOS + bytes + EOS in consecutive windows, every byte and the EOS predicted once. */
class MegabyteEvaluatorTest {
    static final MegabyteConfig CONFIG = new MegabyteConfig(4, 8, 1, 2, 16, 1, 2, null, 16, 16, 260, 1e-5, 10000.0, 3L);

    /** Σ NLL of the ids of one window, position by position from the logits (double precision). */
    static double nll(Megabyte m, int[] window, int from, int n) {
        float[] logits = m.forward(Arrays.copyOf(window, 8), 1, 8);
        double sum = 0;
        for (int t = from; t < n; t++) {
            double max = Double.NEGATIVE_INFINITY, z = 0;
            for (int v = 0; v < m.vocab(); v++) max = Math.max(max, logits[t * m.vocab() + v]);
            for (int v = 0; v < m.vocab(); v++) z += Math.exp(logits[t * m.vocab() + v] - max);
            sum += max + Math.log(z) - logits[t * m.vocab() + window[t]];
        }
        return sum;
    }

    @Test
    void aDocumentOfElevenBytesIsTwoWindowsOfEightIds(@TempDir Path tmp) throws Exception {
        Path doc = tmp.resolve("doc.txt");
        Files.writeString(doc, "hello world");
        Megabyte m = Megabyte.initialise(CONFIG);
        MegabyteEvaluator.Result r = new MegabyteEvaluator(m, 3, 8).evaluate(CorpusSource.of(doc));
        int[] ids = ByteTokens.encode("hello world", true, true); // 13 ids: windows [0, 8) and [8, 13)
        double expected = nll(m, Arrays.copyOfRange(ids, 0, 8), 1, 8) + nll(m, Arrays.copyOfRange(ids, 8, 13), 0, 5);
        assertEquals(11, r.bytes());
        assertEquals(12, r.targets()); // 11 bytes + EOS; BOS is never predicted
        assertEquals(1, r.documents());
        assertEquals(expected / 12, r.lossNats(), 1e-5);
        assertEquals(r.lossNats() / Math.log(2), r.bitsPerByte(), 1e-12);
    }

    @Test
    void windowsThatAreNotWholePatchesAreRefused() {
        Megabyte m = Megabyte.initialise(CONFIG);
        assertThrows(PatchworkException.class, () -> new MegabyteEvaluator(m, 1, 6));
        assertThrows(PatchworkException.class, () -> new MegabyteEvaluator(m, 1, 32));
    }
}

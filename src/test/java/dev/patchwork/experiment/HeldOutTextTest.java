package dev.patchwork.experiment;

import dev.patchwork.data.ByteCorpus;
import dev.patchwork.eval.noise.NoisedCorpus;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** The held-out text is exactly the bytes of the corpus' held-out split, one file per (partial) document. */
class HeldOutTextTest {
    @Test
    void writesTheHeldOutSplitDocumentByDocument(@TempDir Path tmp) throws Exception {
        Path src = tmp.resolve("src");
        Files.createDirectories(src);
        // 3 documents of 18 bytes: 20 tokens each (BOS + bytes + EOS), 60 tokens in all
        for (String name : new String[]{"a", "b", "c"}) Files.writeString(src.resolve(name + ".txt"), (name + "-document-bytes!!").substring(0, 18));
        try (ByteCorpus corpus = ByteCorpus.open(src, tmp.resolve("cache"))) {
            assertEquals(60, corpus.tokens());
            // the last 24 tokens are held out: from position 36, inside document b (positions 20..39: BOS at 20, bytes 21..38)
            HeldOutText.Stats s = HeldOutText.write(corpus, 0.4, 1000, tmp.resolve("h"));
            assertEquals(2, s.documents());
            assertEquals(new String(Files.readAllBytes(src.resolve("b.txt"))).substring(15),
                    Files.readString(tmp.resolve("h").resolve(NoisedCorpus.fileName(0))), "the tail of the cut document");
            assertEquals(Files.readString(src.resolve("c.txt")), Files.readString(tmp.resolve("h").resolve(NoisedCorpus.fileName(1))));
            assertEquals(3 + 18, s.bytes());
            // capped: the first 6 held-out bytes only
            HeldOutText.Stats capped = HeldOutText.write(corpus, 0.4, 6, tmp.resolve("h"));
            assertEquals(6, capped.bytes());
            assertEquals("c-d", Files.readString(tmp.resolve("h").resolve(NoisedCorpus.fileName(1))));
            assertFalse(Files.exists(tmp.resolve("h").resolve(NoisedCorpus.fileName(2))));
        }
    }
}

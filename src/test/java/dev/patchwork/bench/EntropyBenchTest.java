package dev.patchwork.bench;

import dev.patchwork.data.ByteTokens;
import dev.patchwork.model.ByteLmConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

import static org.junit.jupiter.api.Assertions.*;

class EntropyBenchTest {
    static long contentBytes(List<int[]> docs) {
        long n = 0;
        for (int[] d : docs) {
            assertEquals(ByteTokens.BOS, d[0]);
            assertEquals(ByteTokens.EOS, d[d.length - 1]);
            n += d.length - 2;
        }
        return n;
    }

    @Test
    void pseudoTextIsDeterministicAndExactlyAsLong() {
        EntropyBench.Text a = EntropyBench.pseudoText(100_000), b = EntropyBench.pseudoText(100_000);
        assertEquals(100_000, a.bytes());
        assertEquals(100_000, contentBytes(a.documents()));
        assertEquals(a.documents().size(), b.documents().size());
        for (int i = 0; i < a.documents().size(); i++) assertArrayEquals(a.documents().get(i), b.documents().get(i));
        assertTrue(a.documents().size() > 5, "documents of varied lengths");
    }

    @Test
    void javaSourcesInNameOrderCutToSizeThenToppedUp(@TempDir Path dir) throws IOException {
        Path zip = dir.resolve("src.zip");
        try (OutputStream out = Files.newOutputStream(zip); ZipOutputStream z = new ZipOutputStream(out)) {
            for (String[] e : new String[][]{{"b/B.java", "class B {}"}, {"a/A.java", "class A {}"}, {"README.txt", "no"}}) {
                z.putNextEntry(new ZipEntry(e[0]));
                z.write(e[1].getBytes(StandardCharsets.UTF_8));
            }
        }
        EntropyBench.Text cut = EntropyBench.text(15, zip);
        assertEquals(15, cut.bytes());
        assertEquals("class A {}", ByteTokens.decodeUtf8(cut.documents().get(0)).replaceAll("[^ -~]", ""));
        assertEquals("class", ByteTokens.decodeUtf8(cut.documents().get(1)).replaceAll("[^ -~]", ""));
        EntropyBench.Text more = EntropyBench.text(1000, zip);
        assertEquals(1000, more.bytes());
        assertEquals(1000, contentBytes(more.documents()));
        assertEquals(1000, EntropyBench.text(1000, dir.resolve("missing.zip")).bytes());
    }

    @Test
    void flopsCountEveryChunkWithPositionsRestarting() {
        ByteLmConfig c = EntropyBench.defaultConfig();
        double full = 64 * ModelFlops.forwardPerToken(c, 64), one = ModelFlops.forwardPerToken(c, 1);
        assertEquals(2 * full + one, EntropyBench.forwardFlops(c, List.of(new int[129]), 64), 1e-6 * full);
        assertEquals(full + 2 * one, EntropyBench.forwardFlops(c, List.of(new int[64], new int[1], new int[1]), 64), 1e-6 * full);
        assertTrue(ModelFlops.forwardPerToken(c, 64) > ModelFlops.forwardPerToken(c, 1), "attention grows with context");
    }

    @Test
    void reportsBytesPerSecond() {
        ByteLmConfig tiny = new ByteLmConfig(16, 1, null, 2, null, null, 16, null, null, null, null, 64, 1L, null,
                null, null, null, null, null, null, null, null);
        Map<String, Object> m = EntropyBench.run(tiny, 0.02, false);
        assertEquals(20_000L, m.get("bytes"));
        assertEquals(64, m.get("chunk_length"));
        assertTrue((Double) m.get("bytes_per_s") > 0);
        assertTrue((Double) m.get("model_gflops") > 0);
        assertFalse(m.containsKey("mfu"), "no peak probe was asked for");
        double h = (Double) m.get("mean_entropy_nats");
        assertTrue(h > 0 && h < Math.log(260), "mean entropy " + h);
        assertThrows(IllegalArgumentException.class, () -> EntropyBench.run(tiny, 0, false));
    }
}

package dev.patchwork.bench;

import dev.patchwork.io.Checkpoint;
import dev.patchwork.io.Dtype;
import dev.patchwork.io.HfNames;
import dev.patchwork.io.HfTensorSource;
import dev.patchwork.io.SafetensorsFile;
import dev.patchwork.io.SparseSafetensors;
import dev.patchwork.io.TensorEntry;
import dev.patchwork.model.BltConfig;
import dev.patchwork.model.ModelDirectory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** The synthetic blt-1b of {@code bench load} has the released model's sizes, and tensors over 2^31 values work. */
class LoadBenchTest {
    @Test
    void theSyntheticBlt1bHasTheReleasedParameterCounts(@TempDir Path dir) throws Exception {
        long length = LoadBench.writeSynthetic(dir, LoadBench.blt1bArgs(), LoadBench.entropyArgs());
        assertEquals(length, Files.size(dir.resolve(Checkpoint.MODEL_FILE)));
        BltConfig config = ModelDirectory.of(dir).bltConfig();
        assertEquals(6, config.hashTables());
        try (SafetensorsFile f = Checkpoint.openModel(dir)) {
            long blt = 0, hash = 0, patcher = 0;
            for (TensorEntry t : f.tensors()) {
                assertEquals(Dtype.BF16, t.dtype(), t.name());
                if (t.name().startsWith(HfNames.PATCHER_PREFIX)) patcher += t.elementCount();
                else if (t.name().equals(HfNames.FUSED_HASH_TABLE)) hash += t.elementCount();
                else blt += t.elementCount();
            }
            assertEquals(6L * 500002 * 1024, hash, "spec §2: 3.072B values of hash tables");
            assertEquals(1.462e9, blt, 0.0005e9, "spec §2: 1.462B without the hash tables");
            assertEquals(99.5e6, patcher, 0.05e6, "spec §2: the entropy model's 99.5M");
            assertArrayEquals(new long[]{2048, 1024}, f.tensor("model.local_encoder.patch_embedding_projection.weight").shape());
            assertArrayEquals(new long[]{260, 1024}, f.tensor(HfNames.LM_HEAD).shape());
        }
    }

    /** A fused table of 3·2^30 + 3 values, past 2^31 and 2^32 bytes: each table slice starts at the right byte. */
    @Test
    void aFusedTableOverTwoToTheThirtyOneValuesSplitsAtTheRightOffsets(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("big.safetensors");
        long rows = (1L << 30) + 1;
        SparseSafetensors.create(file, List.of(new SparseSafetensors.Spec(HfNames.FUSED_HASH_TABLE, Dtype.BF16, new long[]{3 * rows, 1})));
        try (SafetensorsFile f = SafetensorsFile.open(file)) {
            TensorEntry fused = f.tensor(HfNames.FUSED_HASH_TABLE);
            assertEquals(3 * rows, fused.elementCount());
            HfTensorSource s = HfTensorSource.blt(f, 3);
            for (int i = 0; i < 3; i++) {
                TensorEntry t = s.tensor(HfNames.hashTable(i));
                assertArrayEquals(new long[]{rows, 1}, t.shape());
                assertEquals(fused.data().address() + i * rows * 2, t.data().address(), "table " + i);
                assertEquals(0, t.data().get(ValueLayout.JAVA_SHORT_UNALIGNED, t.data().byteSize() - 2));
            }
            var e = assertThrows(RuntimeException.class, () -> HfTensorSource.blt(f, 4));
            assertTrue(e.getMessage().contains("not 4 hash tables"), e.getMessage());
            var big = assertThrows(RuntimeException.class, fused::toFloatArray);
            assertTrue(big.getMessage().contains("too many for a Java array"), big.getMessage());
        }
    }

    @Test
    void theCommandIsRegistered() {
        assertEquals(0, dev.patchwork.cli.Main.run("bench", "load", "--help"));
        assertEquals(0, dev.patchwork.cli.Main.run("convert", "--help"));
    }
}

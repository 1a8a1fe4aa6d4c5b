package dev.patchwork.tensor;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The stored-format kernels: vector path against its scalar twin on ragged shapes, both against the float32 kernels
 * run on the same values widened (the exact oracle), the tiled path for many rows, fused outputs side by side, and
 * an embedding row past value 2^31 of a sparse BF16 file.
 */
class MappedGemvTest {
    @TempDir
    Path dir;

    /** Random values stored in {@code format} (so the widened floats are exactly what the kernels see). */
    static MappedWeight randomWeight(WeightFormat format, long values, SplittableRandom rng) {
        MemorySegment seg = Arena.ofAuto().allocate(values * format.byteSize() + 3, 1).asSlice(3); // misaligned on purpose
        for (long i = 0; i < values; i++) {
            float v = (float) (rng.nextDouble() * 2 - 1);
            switch (format) {
                case F32 -> seg.setAtIndex(ParameterBuffer.F32, i, v);
                case BF16 -> seg.setAtIndex(WeightFormat.U16, i, WeightFormat.toBf16(v));
                case F16 -> seg.setAtIndex(WeightFormat.U16, i, Float.floatToFloat16(v));
            }
        }
        return new MappedWeight(seg, format);
    }

    static float[] widened(MappedWeight w) {
        float[] out = new float[(int) w.values()];
        MappedGemv.widenScalar(w, 0, out, 0, out.length);
        return out;
    }

    static float[] random(int n, SplittableRandom rng) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (rng.nextDouble() * 2 - 1);
        return a;
    }

    @Test
    void bf16DecodingIsTheUpperHalfOfAFloatAndRoundsToNearestEven() {
        assertEquals((short) 0x3F80, WeightFormat.toBf16(1f));
        assertEquals(1f, Float.intBitsToFloat(0x3F80 << 16));
        // 1 + 2^-8 is halfway between 1 and the next bf16 (1 + 2^-7): ties go to the even mantissa, 1
        assertEquals((short) 0x3F80, WeightFormat.toBf16(1f + 0x1p-8f));
        assertEquals((short) 0x3F81, WeightFormat.toBf16(1f + 0x1p-8f + 0x1p-20f));
        assertTrue(Float.isNaN(Float.intBitsToFloat(WeightFormat.toBf16(Float.NaN) << 16)));
        MemorySegment s = MemorySegment.ofArray(new short[]{(short) 0xC040});
        assertEquals(-3f, WeightFormat.BF16.get(s, 0));
    }

    /** Every one of the 65,536 F16 patterns (subnormals, infinities, NaNs, both zeros) widens as {@link Float#float16ToFloat}. */
    @Test
    void everyF16PatternWidensExactlyAsTheJdkDoes() {
        MemorySegment all = MemorySegment.ofArray(new short[1 << 16]);
        for (int i = 0; i < 1 << 16; i++) all.setAtIndex(WeightFormat.U16, i, (short) i);
        float[] got = new float[1 << 16];
        MappedGemv.widen(new MappedWeight(all, WeightFormat.F16), 0, got, 0, got.length);
        for (int i = 0; i < 1 << 16; i++)
            assertEquals(Float.floatToRawIntBits(Float.float16ToFloat((short) i)), Float.floatToRawIntBits(got[i]),
                    "F16 pattern 0x" + Integer.toHexString(i));
    }

    @ParameterizedTest
    @EnumSource(WeightFormat.class)
    void widenVectorMatchesScalarOnRaggedRanges(WeightFormat format) {
        SplittableRandom rng = new SplittableRandom(11 + format.ordinal());
        MappedWeight w = randomWeight(format, 1000, rng);
        for (int trial = 0; trial < 40; trial++) {
            int from = rng.nextInt(500), n = rng.nextInt(500);
            float[] a = new float[n + 3], b = new float[n + 3];
            MappedGemv.widen(w, from, a, 3, n);
            MappedGemv.widenScalar(w, from, b, 3, n);
            assertArrayEquals(b, a, format + " from " + from + " n " + n);
        }
        assertThrows(IllegalArgumentException.class, () -> MappedGemv.widen(w, 990, new float[20], 0, 20));
    }

    @ParameterizedTest
    @EnumSource(WeightFormat.class)
    void xwTMatchesScalarTwinAndTheFloatKernelOnRaggedShapes(WeightFormat format) {
        SplittableRandom rng = new SplittableRandom(5 + format.ordinal());
        for (int trial = 0; trial < 12; trial++) {
            // half the trials through the direct path, half through the widened tiles
            int rows = trial < 6 ? 1 + rng.nextInt(WeightOps.MAX_DIRECT_ROWS) : WeightOps.MAX_DIRECT_ROWS + 1 + rng.nextInt(20);
            int out = 1 + rng.nextInt(70), in = 1 + rng.nextInt(300);
            boolean accumulate = rng.nextBoolean();
            MappedWeight w = randomWeight(format, (long) out * in, rng);
            float[] x = random(rows * in, rng), y0 = random(rows * out, rng);
            float[] fast = y0.clone(), scalar = y0.clone(), oracle = y0.clone();
            WeightOps.mappedXwT(fast, 0, out, x, 0, w, rows, out, in, accumulate);
            MappedGemv.xwTScalar(scalar, 0, out, x, 0, w, rows, out, in, accumulate);
            Matmul.xwTScalar(oracle, 0, x, 0, MemorySegment.ofArray(widened(w)), 0, rows, out, in, accumulate);
            String what = format + " rows " + rows + " out " + out + " in " + in;
            for (int i = 0; i < fast.length; i++) {
                float tol = 1e-5f * (1 + in);
                assertEquals(scalar[i], fast[i], tol, what + " vs scalar at " + i);
                assertEquals(oracle[i], scalar[i], tol, what + " vs float kernel at " + i);
            }
        }
    }

    @Test
    void fusedPartsWriteSideBySideAndMatchOneFloatMatrix() {
        SplittableRandom rng = new SplittableRandom(3);
        int in = 37, a = 19, b = 5;
        ParameterLayout.Builder lb = ParameterLayout.builder();
        ParameterLayout.View wa = lb.add("a", a, in), wb = lb.addAdjacent("b", b, in);
        ParameterLayout layout = lb.build();
        MappedWeight ma = randomWeight(WeightFormat.BF16, (long) a * in, rng), mb = randomWeight(WeightFormat.BF16, (long) b * in, rng);
        ParameterBuffer mapped = ParameterBuffer.mapped(layout, Map.of("a", ma, "b", mb));
        ParameterBuffer plain = ParameterBuffer.allocate(layout);
        plain.fill(wa, widened(ma));
        plain.fill(wb, widened(mb));
        for (int rows : new int[]{1, 3, WeightOps.MAX_DIRECT_ROWS + 5}) {
            float[] x = random(rows * in, rng), y1 = new float[rows * (a + b)], y2 = new float[rows * (a + b)];
            WeightOps.xwTFused(y1, 0, x, 0, mapped, new ParameterLayout.View[]{wa, wb}, rows, in, false);
            WeightOps.xwTFused(y2, 0, x, 0, plain, new ParameterLayout.View[]{wa, wb}, rows, in, false);
            assertArrayEquals(y2, y1, 1e-4f, "rows " + rows);
        }
    }

    @Test
    void aMappedBufferStoresOnlyTheUnmappedViewsAndRefusesTraining() {
        ParameterLayout.Builder lb = ParameterLayout.builder();
        ParameterLayout.View big = lb.add("big", 1000, 100), norm = lb.add("norm", 100);
        ParameterLayout layout = lb.build();
        ParameterBuffer p = ParameterBuffer.mapped(layout,
                Map.of("big", randomWeight(WeightFormat.BF16, 100_000, new SplittableRandom(1))));
        assertEquals(112 * Float.BYTES, p.floatStorageBytes()); // the norm, padded to 16 floats; no copy of "big"
        assertNotNull(p.mapped(big));
        assertNull(p.mapped(norm));
        p.fill(norm, random(100, new SplittableRandom(2)));
        assertEquals(p.get(norm, 7), p.toArray(norm)[7]);
        assertEquals(p.mapped(big).get(12345), p.get(big, 12345));
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> p.offset(big));
        assertTrue(e.getMessage().contains("--dtype f32"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> ParameterBuffer.mapped(layout,
                Map.of("big", randomWeight(WeightFormat.BF16, 99_999, new SplittableRandom(1)))));
    }

    /** A table of 2^31 + 1024 BF16 values (a sparse 4 GB file): rows past value 2^31 are read with long offsets. */
    @Test
    void embeddingRowsPastTwoToThe31ValuesAreGathered() throws IOException {
        int dim = 1024, vocab = (1 << 21) + 1;
        long bytes = (long) vocab * dim * 2;
        Path file = dir.resolve("table.bin");
        float[] row = random(dim, new SplittableRandom(9));
        short[] bits = new short[dim];
        for (int i = 0; i < dim; i++) bits[i] = WeightFormat.toBf16(row[i]);
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.setLength(bytes);
            f.seek(bytes - 2L * dim);
            byte[] le = new byte[2 * dim];
            for (int i = 0; i < dim; i++) {
                le[2 * i] = (byte) bits[i];
                le[2 * i + 1] = (byte) (bits[i] >> 8);
            }
            f.write(le);
        }
        try (Arena arena = Arena.ofShared(); FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            MappedWeight table = new MappedWeight(ch.map(FileChannel.MapMode.READ_ONLY, 0, bytes, arena), WeightFormat.BF16);
            assertTrue(table.values() > Integer.MAX_VALUE);
            float[] out = new float[2 * dim];
            MappedGemv.gather(table, vocab, dim, new int[]{vocab - 1, 5}, 0, 2, out, 0);
            for (int i = 0; i < dim; i++) {
                assertEquals(Float.intBitsToFloat(bits[i] << 16), out[i], "value " + i + " of the last row");
                assertEquals(0f, out[dim + i]);
            }
            assertThrows(IllegalArgumentException.class, () -> MappedGemv.gather(table, vocab, dim, new int[]{vocab}, 0, 1, out, 0));
        }
    }
}

package dev.patchwork.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Seeded random corruptions of valid checkpoints (a hand-built one with views, and the reference's entropy model):
 * truncations, flipped bits and overwritten words aimed at the zip's end records and central directory, its local
 * headers and data.pkl. Each must either open and read every tensor, or fail with a one-line
 * {@link CheckpointException}; any other exception, a hang or an OOM fails the test. The pickle machine alone gets
 * many more cases, as it is the part that parses the most.
 */
class PthFuzzTest {
    private static final int INT_VALUES[] = {0, 1, -1, 0x7fffffff, 0x80000000, 0xffff, 64, 12};

    @TempDir
    Path dir;

    /** The parts of a zip worth aiming at: [start, end) ranges. */
    private record Regions(int[] pickle, int[] localHeaders, int[] directory) {}

    @Test
    void corruptCheckpointsOpenCleanlyOrFailWithACheckpointException() {
        assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
            long start = System.nanoTime();
            TorchZipBytes views = PthFiles.views();
            byte[] small = views.bytes();
            byte[] reference = Files.readAllBytes(PthReferenceTest.resource("entropy_model_consolidated/consolidated.pth"));
            int[] outcomes = new int[2];
            fuzz(small, regionsOf(small), 300, new SplittableRandom(5), outcomes);
            fuzz(reference, regionsOf(reference), 150, new SplittableRandom(6), outcomes);
            System.out.printf("pth fuzz: %d opened, %d refused in %.2f s%n", outcomes[0], outcomes[1], (System.nanoTime() - start) / 1e9);
            assertTrue(outcomes[1] > 0 && outcomes[0] > 0, "the mutations should both break and spare files");
        });
    }

    private void fuzz(byte[] valid, Regions regions, int cases, SplittableRandom rnd, int[] outcomes) throws IOException {
        for (int c = 0; c < cases; c++) {
            byte[] mutated = mutate(valid, regions, rnd);
            Path file = dir.resolve("fuzz.pth");
            Files.write(file, mutated);
            try (PthFile f = PthFile.open(file)) {
                for (TensorEntry t : f.tensors()) {
                    assertEquals(t.elementCount() * t.dtype().byteSize(), t.data().byteSize(), t.toString());
                    if (t.dtype().convertsToFloat()) t.toFloatArray();
                }
                outcomes[0]++;
            } catch (CheckpointException e) {
                assertTrue(e.getMessage().startsWith(file + ": "), e.getMessage());
                assertFalse(e.getMessage().contains("\n"), e.getMessage());
                outcomes[1]++;
            } catch (Throwable t) {
                Files.write(Path.of("target", "pth-fuzz-failure.pth"), mutated);
                throw new AssertionError("case " + c + " threw " + t + " (file kept as target/pth-fuzz-failure.pth)", t);
            }
        }
    }

    private static byte[] mutate(byte[] valid, Regions r, SplittableRandom rnd) {
        int kind = rnd.nextInt(5);
        if (kind == 0) return Arrays.copyOf(valid, rnd.nextInt(valid.length)); // truncation
        byte[] b = valid.clone();
        int[] region = switch (kind) {
            case 1 -> r.directory();
            case 2 -> r.localHeaders();
            default -> r.pickle();
        };
        int flips = 1 + rnd.nextInt(3);
        for (int i = 0; i < flips; i++) {
            int at = region[2 * rnd.nextInt(region.length / 2)];
            int end = region[2 * rnd.nextInt(region.length / 2) + 1];
            int lo = Math.min(at, end), hi = Math.max(at, end);
            int pos = lo + rnd.nextInt(Math.max(1, hi - lo));
            if (rnd.nextBoolean() || pos + 4 > b.length) b[pos] ^= (byte) (1 << rnd.nextInt(8));
            else ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putInt(pos, INT_VALUES[rnd.nextInt(INT_VALUES.length)]);
        }
        return b;
    }

    /** Finds the parts by their signatures: local headers (30 bytes + name), data.pkl's bytes, the directory to the end. */
    private static Regions regionsOf(byte[] zip) {
        List<Integer> headers = new ArrayList<>();
        int directory = -1;
        for (int i = 0; i + 4 <= zip.length; i++) {
            int sig = ByteBuffer.wrap(zip, i, 4).order(ByteOrder.LITTLE_ENDIAN).getInt();
            if (sig == 0x04034b50 && directory < 0) headers.add(i);
            if (sig == 0x02014b50 && directory < 0) directory = i;
        }
        ByteBuffer le = ByteBuffer.wrap(zip).order(ByteOrder.LITTLE_ENDIAN);
        int[] local = new int[2 * headers.size()];
        for (int h = 0; h < headers.size(); h++) {
            local[2 * h] = headers.get(h);
            local[2 * h + 1] = headers.get(h) + 30 + (le.getShort(headers.get(h) + 26) & 0xffff);
        }
        // data.pkl is the first record; its size is in the first central directory entry
        int pickleStart = local[1] + (le.getShort(26 + 2) & 0xffff);
        int pickleSize = le.getInt(directory + 24);
        return new Regions(new int[]{pickleStart, pickleStart + pickleSize}, local, new int[]{directory, zip.length});
    }

    /** The pickle machine alone, on mutated data.pkl streams: it either builds a value or throws its own exception. */
    @Test
    void corruptPicklesFailOnlyWithPickleExceptions() {
        assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
            byte[] views = PthFiles.viewsPickle().bytes();
            SplittableRandom rnd = new SplittableRandom(7);
            int built = 0, refused = 0;
            for (int c = 0; c < 5000; c++) {
                byte[] b = views.clone();
                switch (rnd.nextInt(3)) {
                    case 0 -> b = Arrays.copyOf(b, rnd.nextInt(b.length));
                    case 1 -> {
                        for (int i = rnd.nextInt(1, 4); i > 0; i--) b[rnd.nextInt(b.length)] ^= (byte) (1 << rnd.nextInt(8));
                    }
                    default -> b[rnd.nextInt(b.length)] = (byte) rnd.nextInt(256); // any opcode anywhere
                }
                try {
                    StateDictUnpickler.load(MemorySegment.ofArray(b));
                    built++;
                } catch (StateDictUnpickler.PickleException e) {
                    assertTrue(e.getMessage().startsWith("at byte "), e.getMessage());
                    refused++;
                } catch (Throwable t) {
                    throw new AssertionError("case " + c + " threw " + t + " on " + Arrays.toString(b), t);
                }
            }
            assertTrue(built > 0 && refused > 0);
        });
    }
}

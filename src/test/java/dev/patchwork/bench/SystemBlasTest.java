package dev.patchwork.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

import dev.patchwork.tensor.Matmul;
import dev.patchwork.tensor.Parallel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static dev.patchwork.tensor.ParameterBuffer.F32;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The optional system BLAS binding: when a BLAS is installed, its three forms agree with {@link Matmul}; when none is,
 * the lookup returns the one-line explanation instead of failing (asserted, so the test never passes by skipping).
 */
class SystemBlasTest {
    @Test
    void systemBlasAgreesWithMatmulOrExplainsItsAbsence() {
        SystemBlas.Lookup lookup = SystemBlas.find(null, Parallel.threads());
        if (lookup.blas().isEmpty()) {
            assertTrue(lookup.message().startsWith("no BLAS comparison: could not load cblas_sgemm from libopenblas.so.0"),
                    lookup.message());
            assertTrue(lookup.message().contains("--blas-lib PATH"), lookup.message());
            return;
        }
        SystemBlas blas = lookup.blas().get();
        assertTrue(lookup.message().contains(blas.library()), lookup.message());
        // OpenBLAS's idle threads are told not to spin between the benchmark's alternating calls
        assertTrue(lookup.message().contains(SystemBlas.SPIN_VARIABLE + "="), lookup.message());
        SplittableRandom rnd = new SplittableRandom(42);
        for (int[] s : new int[][] {{1, 1, 1}, {13, 37, 129}, {50, 33, 17}, {96, 130, 256}}) {
            compare(blas, rnd, s[0], s[1], s[2]);
        }
    }

    private static void compare(SystemBlas blas, SplittableRandom rnd, int M, int N, int K) {
        try (Arena arena = Arena.ofConfined()) {
            float[] x = random(rnd, M * K), dy = random(rnd, M * N), yInit = random(rnd, M * N);
            MemorySegment w = segment(arena, random(rnd, N * K)), dwInit = segment(arena, random(rnd, N * K));

            float[] y = yInit.clone();
            Matmul.xwTScalar(y, 0, x, 0, w, 0, M, N, K, true);
            MemorySegment ny = segment(arena, yInit);
            blas.xwT(ny, segment(arena, x), w, M, N, K, true);
            assertClose(y, ny.toArray(F32), K, "xwT " + M + "x" + N + "x" + K);

            float[] dx = new float[M * K];
            Matmul.dyWScalar(dx, 0, dy, 0, w, 0, M, N, K, false);
            MemorySegment ndx = arena.allocate((long) M * K * Float.BYTES, 64);
            blas.dyW(ndx, segment(arena, dy), w, M, N, K, false);
            assertClose(dx, ndx.toArray(F32), N, "dyW " + M + "x" + N + "x" + K);

            MemorySegment dw = segment(arena, dwInit.toArray(F32)), ndw = segment(arena, dwInit.toArray(F32));
            Matmul.dyTxScalar(dw, 0, dy, 0, x, 0, M, N, K);
            blas.dyTx(ndw, segment(arena, dy), segment(arena, x), M, N, K);
            assertClose(dw.toArray(F32), ndw.toArray(F32), M, "dyTx " + M + "x" + N + "x" + K);
        }
    }

    @Test
    void missingExplicitLibraryIsAOneLineExplanation() {
        SystemBlas.Lookup lookup = SystemBlas.find(Path.of("/nonexistent/libopenblas.so"), 1);
        assertTrue(lookup.blas().isEmpty());
        assertEquals("no BLAS comparison: --blas-lib /nonexistent/libopenblas.so is not a file; give the path of a "
                + "libopenblas.so / libblas.so", lookup.message());
    }

    @Test
    void fileThatIsNotALibraryIsAOneLineExplanation(@TempDir Path dir) throws Exception {
        Path fake = Files.writeString(dir.resolve("libfake.so"), "not a shared object");
        SystemBlas.Lookup lookup = SystemBlas.find(fake, 1);
        assertTrue(lookup.blas().isEmpty());
        assertTrue(lookup.message().startsWith("no BLAS comparison: could not load cblas_sgemm from " + fake),
                lookup.message());
        assertTrue(lookup.message().lines().count() == 1, lookup.message());
    }

    /** Both sides sum {@code depth} products in different orders: allow float reassociation. */
    private static void assertClose(float[] expected, float[] actual, int depth, String what) {
        assertEquals(expected.length, actual.length, what);
        for (int i = 0; i < expected.length; i++) {
            float tol = 1e-5f * depth + 1e-5f * Math.abs(expected[i]);
            assertEquals(expected[i], actual[i], tol, what + " at " + i);
        }
    }

    private static MemorySegment segment(Arena arena, float[] a) {
        MemorySegment s = arena.allocate((long) a.length * Float.BYTES, 64);
        MemorySegment.copy(a, 0, s, F32, 0, a.length);
        return s;
    }

    private static float[] random(SplittableRandom rnd, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (rnd.nextDouble() - 0.5);
        return a;
    }
}

package dev.patchwork.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A system BLAS ({@code cblas_sgemm}), called through the JDK's foreign function API, as the yardstick for
 * {@code patchwork bench kernels --compare-blas}. Nothing else uses it: Patchwork never needs a native library, and
 * when none is installed the benchmark says so and measures our kernels alone.
 *
 * <p>The three training forms of {@link dev.patchwork.tensor.Matmul} map onto row-major {@code cblas_sgemm} calls
 * with the matching transposes ({@link #xwT}, {@link #dyW}, {@link #dyTx}). Operands are native segments (a BLAS
 * cannot read a Java array), so the benchmark copies its inputs once before timing.
 */
public final class SystemBlas {
    /** Library names tried in order when no path is given; the dynamic loader searches its usual directories. */
    public static final List<String> CANDIDATES = List.of("libopenblas.so.0", "libopenblas.so", "libblas.so.3");

    private static final int ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112;
    private static final ValueLayout.OfInt I = ValueLayout.JAVA_INT;
    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT;
    private static final ValueLayout A = ValueLayout.ADDRESS;

    private final String library;
    private final MethodHandle sgemm;

    private SystemBlas(String library, MethodHandle sgemm) {
        this.library = library;
        this.sgemm = sgemm;
    }

    /** The outcome of looking for a BLAS: the binding, or why there is none (one line, with how to get one). */
    public record Lookup(Optional<SystemBlas> blas, String message) {}

    /**
     * Loads {@code cblas_sgemm} from {@code explicitPath} when given, else from the first of {@link #CANDIDATES} the
     * dynamic loader finds. Never throws for a missing or unusable library: the lookup carries the reason instead.
     * When the library is OpenBLAS, its thread count is set to {@code threads} so both sides use the same cores.
     */
    public static Lookup find(Path explicitPath, int threads) {
        List<String> names = explicitPath != null ? List.of(explicitPath.toString()) : CANDIDATES;
        if (explicitPath != null && !Files.isRegularFile(explicitPath)) {
            return new Lookup(Optional.empty(), "no BLAS comparison: --blas-lib " + explicitPath
                    + " is not a file; give the path of a libopenblas.so / libblas.so");
        }
        String spin = limitOpenBlasSpinning();
        List<String> tried = new ArrayList<>();
        for (String name : names) {
            SymbolLookup lookup;
            try {
                // The global arena: the library stays loaded for the life of the process, as a BLAS should.
                lookup = SymbolLookup.libraryLookup(name, Arena.global());
            } catch (IllegalArgumentException | IllegalCallerException e) {
                tried.add(name);
                continue;
            }
            Optional<MemorySegment> symbol = lookup.find("cblas_sgemm");
            if (symbol.isEmpty()) {
                tried.add(name + " (no cblas_sgemm)");
                continue;
            }
            Linker linker = Linker.nativeLinker();
            MethodHandle sgemm = linker.downcallHandle(symbol.get(), FunctionDescriptor.ofVoid(
                    I, I, I, I, I, I, F, A, I, A, I, F, A, I));
            lookup.find("openblas_set_num_threads").ifPresent(set -> {
                try {
                    linker.downcallHandle(set, FunctionDescriptor.ofVoid(I)).invokeExact(threads);
                } catch (Throwable t) {
                    throw new IllegalStateException("openblas_set_num_threads failed in " + name + ": " + t, t);
                }
            });
            return new Lookup(Optional.of(new SystemBlas(name, sgemm)), "comparing with cblas_sgemm from " + name
                    + " (" + spin + ")");
        }
        return new Lookup(Optional.empty(), "no BLAS comparison: could not load cblas_sgemm from " + String.join(", ", tried)
                + "; install OpenBLAS (Debian/Ubuntu: apt-get install libopenblas0) or pass --blas-lib PATH");
    }

    /** The environment variable that bounds how long OpenBLAS's idle threads spin, and the value used. */
    static final String SPIN_VARIABLE = "OPENBLAS_THREAD_TIMEOUT";
    private static final String SPIN_VALUE = "4";

    /**
     * Makes OpenBLAS's idle threads sleep right after a call instead of spinning (by default for 2^28 cycles, about a
     * tenth of a second): the benchmark alternates our call and OpenBLAS's, and a spinning OpenBLAS thread would take
     * a core from our next call (measured: our medians fell by up to 40% on two cores, which made the ratio measure
     * the interference rather than the kernels). OpenBLAS reads the variable when it is loaded, so it is set in this
     * process's C environment (libc {@code setenv}, keeping a value the user set) before the library is opened.
     * Returns a note for the report.
     */
    private static String limitOpenBlasSpinning() {
        String set = System.getenv(SPIN_VARIABLE);
        if (set != null) return SPIN_VARIABLE + "=" + set + " as given";
        Linker linker = Linker.nativeLinker();
        Optional<MemorySegment> setenv = linker.defaultLookup().find("setenv");
        if (setenv.isEmpty()) return "could not set " + SPIN_VARIABLE + ": no setenv in the C library";
        try (Arena arena = Arena.ofConfined()) {
            MethodHandle h = linker.downcallHandle(setenv.get(), FunctionDescriptor.of(I, A, A, I));
            int rc = (int) h.invokeExact(arena.allocateFrom(SPIN_VARIABLE), arena.allocateFrom(SPIN_VALUE), 0);
            return rc == 0 ? SPIN_VARIABLE + "=" + SPIN_VALUE + ": its idle threads sleep between calls"
                    : "could not set " + SPIN_VARIABLE + " (setenv returned " + rc + ")";
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("setenv(" + SPIN_VARIABLE + ") failed: " + t, t);
        }
    }

    /** The library name or path the binding was loaded from. */
    public String library() {
        return library;
    }

    /** {@code y[M,N] = x[M,K]·w[N,K]ᵀ} (+= when {@code accumulate}): sgemm(NoTrans, Trans). */
    public void xwT(MemorySegment y, MemorySegment x, MemorySegment w, int M, int N, int K, boolean accumulate) {
        sgemm(NO_TRANS, TRANS, M, N, K, x, K, w, K, accumulate ? 1f : 0f, y, N);
    }

    /** {@code dx[M,K] = dy[M,N]·w[N,K]} (+= when {@code accumulate}): sgemm(NoTrans, NoTrans). */
    public void dyW(MemorySegment dx, MemorySegment dy, MemorySegment w, int M, int N, int K, boolean accumulate) {
        sgemm(NO_TRANS, NO_TRANS, M, K, N, dy, N, w, K, accumulate ? 1f : 0f, dx, K);
    }

    /** {@code dw[N,K] += dy[M,N]ᵀ·x[M,K]}: sgemm(Trans, NoTrans). */
    public void dyTx(MemorySegment dw, MemorySegment dy, MemorySegment x, int M, int N, int K) {
        sgemm(TRANS, NO_TRANS, N, K, M, dy, N, x, K, 1f, dw, K);
    }

    private void sgemm(int transA, int transB, int m, int n, int k, MemorySegment a, int lda, MemorySegment b, int ldb,
                       float beta, MemorySegment c, int ldc) {
        try {
            sgemm.invokeExact(ROW_MAJOR, transA, transB, m, n, k, 1f, a, lda, b, ldb, beta, c, ldc);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException("cblas_sgemm from " + library + " failed: " + t, t);
        }
    }
}

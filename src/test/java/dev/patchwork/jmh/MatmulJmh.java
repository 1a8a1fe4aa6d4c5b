package dev.patchwork.jmh;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

import dev.patchwork.tensor.Matmul;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

import static dev.patchwork.tensor.ParameterBuffer.F32;

/**
 * Optional JMH benchmark of the three {@link Matmul} forms (the built-in {@code KernelBench} is the one the CLI runs).
 * Not a unit test: surefire does not pick it up. Run after {@code mvn test-compile} with
 * <pre>
 * java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED \
 *   -cp target/test-classes:target/classes:$(mvn -q dependency:build-classpath -Dmdep.outputFile=/dev/stdout) \
 *   org.openjdk.jmh.Main MatmulJmh
 * </pre>
 * Time per call is reported; GFLOP/s = 2·M·N·K / time.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
public class MatmulJmh {
    /** {@code M x N x K} in {@link Matmul}'s naming. */
    @Param({"1024x1024x1024", "768x384x128", "768x128x352", "768x260x128"})
    public String shape;

    private int m, n, k;
    private float[] x, y, dy, dx;
    private Arena arena;
    private MemorySegment w, dw;

    @Setup(Level.Trial)
    public void setUp() {
        String[] p = shape.split("x");
        m = Integer.parseInt(p[0]);
        n = Integer.parseInt(p[1]);
        k = Integer.parseInt(p[2]);
        SplittableRandom rnd = new SplittableRandom(1);
        x = random(rnd, m * k);
        dy = random(rnd, m * n);
        y = new float[m * n];
        dx = new float[m * k];
        arena = Arena.ofShared();
        w = arena.allocate((long) n * k * Float.BYTES, 64);
        dw = arena.allocate((long) n * k * Float.BYTES, 64);
        for (long i = 0; i < (long) n * k; i++) w.setAtIndex(F32, i, (float) (rnd.nextDouble() - 0.5));
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
    }

    private static float[] random(SplittableRandom rnd, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (rnd.nextDouble() - 0.5);
        return a;
    }

    @Benchmark
    public float[] xwT() {
        Matmul.xwT(y, 0, x, 0, w, 0, m, n, k, false);
        return y;
    }

    @Benchmark
    public float[] dyW() {
        Matmul.dyW(dx, 0, dy, 0, w, 0, m, n, k, false);
        return dx;
    }

    @Benchmark
    public MemorySegment dyTx() {
        Matmul.dyTx(dw, 0, dy, 0, x, 0, m, n, k);
        return dw;
    }
}

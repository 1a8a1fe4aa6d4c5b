package dev.patchwork.bench;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The benchmark's probe and report format (the timed runs themselves are too slow for a unit test). */
class KernelBenchTest {
    @Test
    void fmaProbeReportsPositiveThroughput() {
        FmaPeak.Result r = FmaPeak.measure(20_000, 1);
        assertTrue(r.perThreadGflops() > 0 && Double.isFinite(r.perThreadGflops()), r.toString());
        assertTrue(r.totalGflops() > 0 && Double.isFinite(r.totalGflops()), r.toString());
        assertTrue(r.threads() >= 1 && r.lanes() >= 1, r.toString());
        assertThrows(IllegalArgumentException.class, () -> FmaPeak.measure(0, 1));
    }

    @Test
    void memoryProbeAndGemvReportPlausibleFigures() {
        double gbs = MemoryBandwidth.measure(1 << 22, 3);
        assertTrue(gbs > 0 && Double.isFinite(gbs), "read bandwidth " + gbs); // cold code: any positive figure
        assertThrows(IllegalArgumentException.class, () -> MemoryBandwidth.measure(10, 1));
        Map<String, Object> g = KernelBench.gemv(256, 300, 1);
        assertEquals(256, g.get("n"));
        assertEquals(300, g.get("k"));
        assertTrue((Double) g.get("gbs") > 0 && (Double) g.get("fraction_of_memory") > 0, g.toString());
    }

    @Test
    void tableHasOneLinePerResult() {
        Map<String, Object> row = new LinkedHashMap<>();
        row.put("shape", "M=768 N=384 K=128");
        row.put("label", "train");
        row.put("form", "xwT");
        row.put("gflops", 150.0);
        row.put("best_gflops", 160.0);
        row.put("ms", 0.5);
        row.put("fraction_of_peak", 0.667);
        Map<String, Object> result = new LinkedHashMap<>();
        result.put("kernels", "kernels: test");
        result.put("fma_peak_gflops", 225.0);
        result.put("fma_peak_per_thread_gflops", 113.0);
        result.put("results", List.of(row, row));
        String table = KernelBench.table(result);
        assertEquals(5, table.lines().count(), table);
        assertTrue(table.contains("train  M=768 N=384 K=128"), table);
        assertTrue(table.contains("150.0") && table.contains("67%"), table);
    }
}

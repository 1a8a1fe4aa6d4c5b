package dev.patchwork.train;

import com.fasterxml.jackson.databind.JsonNode;
import dev.patchwork.data.BltBatch;
import dev.patchwork.data.PackedSequence;
import dev.patchwork.io.Checkpoint;
import dev.patchwork.model.Blt;
import dev.patchwork.model.BltConfig;
import dev.patchwork.util.Json;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/**
 * Padding a short row of a BLT batch (BOE inputs, ignored targets, the last patch extended over the padding) changes
 * none of its real positions' losses: checked on the reference's tiny BLT with its golden rows.
 */
class BltBatchPaddingTest {
    @Test
    void paddedRowsKeepTheirLossesAndTheReferencesNll() throws Exception {
        Path dir = Path.of(getClass().getResource("/reference-tiny/config.json").toURI()).getParent();
        Blt model = Blt.uninitialised(BltConfig.read(dir.resolve("config.json")));
        Checkpoint.loadModel(dir, model.parameters());
        JsonNode cases = Json.MAPPER.readTree(dir.resolve("blt_golden.json").toFile()).get("cases");
        PackedSequence a = row(cases.get("a_english"), 10_000), b = row(cases.get("b_mixed"), 120);
        float[] aloneA = nll(model, List.of(a)), aloneB = nll(model, List.of(b));
        double[] golden = Json.MAPPER.convertValue(cases.get("a_english").get("nll"), double[].class);
        for (int t = 0; t < golden.length; t++) assertEquals(golden[t], aloneA[t], 1e-4, "reference NLL at " + t);

        float[] ab = nll(model, List.of(a, b)), ba = nll(model, List.of(b, a));
        int N = a.x().length;
        for (int t = 0; t < N; t++) {
            assertEquals(aloneA[t], ab[t], 2e-5, "row a first, position " + t);
            assertEquals(aloneA[t], ba[N + t], 2e-5, "row a second, position " + t);
        }
        for (int t = 0; t < b.x().length; t++) {
            assertEquals(aloneB[t], ab[N + t], 2e-5, "padded row b second, position " + t);
            assertEquals(aloneB[t], ba[t], 2e-5, "padded row b first, position " + t);
        }
        for (int t = b.x().length; t < N; t++) assertEquals(0f, ab[N + t], "padding is not counted");
    }

    /** A golden case as a packed row, cut to {@code maxInputs} inputs. */
    static PackedSequence row(JsonNode c, int maxInputs) {
        int[] x = Json.MAPPER.convertValue(c.get("x"), int[].class), y = Json.MAPPER.convertValue(c.get("y"), int[].class);
        int[] tokens = Arrays.copyOf(x, x.length + 1);
        tokens[x.length] = y[y.length - 1];
        return PackedSequence.reference(tokens, Json.MAPPER.convertValue(c.get("patch_lengths"), int[].class), maxInputs);
    }

    static float[] nll(Blt model, List<PackedSequence> rows) {
        BltBatch batch = BltBatch.of(rows);
        model.forward(batch.x(), batch.rows(), batch.bytes(), batch.lengths());
        float[] out = new float[batch.rows() * batch.bytes()];
        model.loss(batch.y(), out, false);
        return out;
    }
}

package dev.patchwork.patch;

import com.fasterxml.jackson.databind.JsonNode;
import dev.patchwork.util.Json;
import org.junit.jupiter.api.Test;

import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.*;

/**
 * The reference's fixture {@code tokens_with_entropies.json} (the BLT paper's Figure 4 sentence, 81 ids with the
 * released entropy model's entropies): the released threshold must give exactly the fixture's patches.
 */
class DaenerysFixtureTest {
    static final double RELEASED_THETA = 1.335442066192627;
    static final int[] EXPECTED = {1, 1, 1, 1, 1, 15, 3, 3, 1, 1, 3, 12, 1, 1, 1, 1, 1, 5, 5, 1, 2, 1, 19};

    /** The fixture stores each column as {"0": v0, "1": v1, ...}. */
    static double[] column(JsonNode root, String name) {
        JsonNode col = root.get(name);
        double[] out = new double[col.size()];
        for (int i = 0; i < out.length; i++) out[i] = col.get(Integer.toString(i)).asDouble();
        return out;
    }

    static JsonNode fixture() throws Exception {
        return Json.MAPPER.readTree(DaenerysFixtureTest.class.getResourceAsStream("/blt/tokens_with_entropies.json"));
    }

    static float[] entropies(JsonNode root) {
        double[] d = column(root, "entropies");
        float[] h = new float[d.length];
        for (int i = 0; i < d.length; i++) h[i] = (float) d[i];
        return h;
    }

    @Test
    void releasedThresholdGivesTheFixturePatches() throws Exception {
        JsonNode root = fixture();
        int[] ids = Arrays.stream(column(root, "token_ids")).mapToInt(v -> (int) v).toArray();
        assertEquals(81, ids.length);
        assertEquals(1, ids[0]);
        assertEquals(2, ids[80]);
        Patches p = PatcherConfig.entropy(RELEASED_THETA).build().patch(ids, entropies(root), false);
        assertArrayEquals(EXPECTED, p.lengths());
        assertEquals(81, p.totalLength());

        // the fixture's own per-position patch index and start flags
        int[] patchOf = Arrays.stream(column(root, "patch")).mapToInt(v -> (int) v).toArray();
        assertArrayEquals(patchOf, p.patchIdOfEveryByte());
        int[] startFlags = Arrays.stream(column(root, "start")).mapToInt(v -> (int) v).toArray();
        boolean[] isStart = new boolean[81];
        for (int s : p.starts()) isStart[s] = true;
        for (int t = 0; t < 81; t++) assertEquals(startFlags[t] == 1, isStart[t], "start flag at " + t);
    }

    @Test
    void theCloseCallAtPosition58IsAStart() throws Exception {
        float[] h = entropies(fixture());
        assertEquals(0.0017, h[58] - RELEASED_THETA, 1e-4);
        int[] starts = PatcherConfig.entropy(RELEASED_THETA).build().patchEntropies(h, false).starts();
        assertTrue(Arrays.stream(starts).anyMatch(s -> s == 59), "H[58] > θ opens a patch at 59");
        // with θ just above H[58] that patch disappears: the rule really reads the fixture's values
        int[] fewer = PatcherConfig.entropy(Math.nextUp(h[58])).build().patchEntropies(h, false).starts();
        assertTrue(Arrays.stream(fewer).noneMatch(s -> s == 59));
    }

    @Test
    void withTheNextTokenOnlyTheEndChanges() throws Exception {
        float[] h = entropies(fixture());
        Patches p = PatcherConfig.entropy(RELEASED_THETA).build().patchEntropies(h, true);
        assertEquals(82, p.totalLength());
        int[] l = p.lengths();
        // H[80] (after EOS) decides whether the virtual byte opens its own patch or joins the last one
        int[] expected = h[80] > (float) RELEASED_THETA ? append(EXPECTED, 1) : bumpLast(EXPECTED);
        assertArrayEquals(expected, l);
    }

    static int[] append(int[] a, int v) {
        int[] b = Arrays.copyOf(a, a.length + 1);
        b[a.length] = v;
        return b;
    }

    static int[] bumpLast(int[] a) {
        int[] b = a.clone();
        b[b.length - 1]++;
        return b;
    }
}

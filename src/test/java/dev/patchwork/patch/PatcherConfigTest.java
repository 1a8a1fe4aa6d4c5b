package dev.patchwork.patch;

import dev.patchwork.util.Json;
import dev.patchwork.util.PatchworkException;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

/** PatcherArgs names, the reference's choice of rule, and refusals. */
class PatcherConfigTest {
    static PatcherConfig parse(String json) throws Exception {
        return PatcherConfig.fromJson(Json.MAPPER.readTree(json), "patcher_args");
    }

    @Test
    void buildsTheRuleTheReferenceWouldUse() {
        PatcherConfig.Mode e = PatcherConfig.Mode.ENTROPY;
        assertEquals(new GlobalThresholdPatcher(1.335442066192627f, 0), PatcherConfig.defaults().build());
        assertEquals(new TopKPatcher(4.5, 0), new PatcherConfig(e, null, null, false, null, 4.5).build());
        assertEquals(new RelativeThresholdPatcher(0.5f, 0), new PatcherConfig(e, 0.5, null, true, null, 4.5).build());
        assertEquals(new GlobalRelativePatcher(1f, 0.25f, 8), new PatcherConfig(e, 1.0, 0.25, false, 8, 4.5).build());
        assertEquals(new SpacePatcher(0), new PatcherConfig(PatcherConfig.Mode.SPACE, 1.0, null, false, null, 4.5).build());
        assertEquals(new StaticPatcher(6, 0), new PatcherConfig(PatcherConfig.Mode.STATIC, null, null, false, null, 6).build());
        assertEquals(new BytePatcher(0), new PatcherConfig(PatcherConfig.Mode.BYTE, null, null, false, null, 4.5).build());
        assertEquals(new BpeDelimiterPatcher(0), new PatcherConfig(PatcherConfig.Mode.BPE, null, null, false, null, 4.5).build());
    }

    @Test
    void readsTheReferencePatcherArgs() throws Exception {
        // data.patcher_args of the reference-tiny train_args.json, inert fields included
        PatcherConfig c = parse("{\"patching_mode\": \"entropy\", \"patching_device\": \"cuda\", \"entropy_model_checkpoint_dir\": null,"
                + " \"realtime_patching\": false, \"threshold\": 3.1328125, \"threshold_add\": null, \"max_patch_length\": null,"
                + " \"patch_size\": 4.5, \"patching_batch_size\": 1, \"device\": \"cuda\", \"monotonicity\": false, \"log_time\": false}");
        assertEquals(PatcherConfig.entropy(3.1328125), c);
        // absent fields take PatcherArgs' defaults; an explicit null threshold is top-k
        assertEquals(PatcherConfig.defaults(), parse("{}"));
        assertInstanceOf(TopKPatcher.class, parse("{\"threshold\": null}").build());
        assertEquals(new BytePatcher(0), parse("{\"patching_mode\": \"byte\"}").build());
        assertEquals(new StaticPatcher(4, 0), parse("{\"patching_mode\": null, \"patch_size\": 4}").build());
        assertEquals(new GlobalThresholdPatcher(2f, 16), parse("{\"threshold\": 2, \"max_patch_length\": 16}").build());
    }

    @Test
    void refusesWhatCannotMeanAnything() {
        assertMessage(() -> parse("{\"threshold\": -0.5}"), "threshold must be >= 0");
        assertMessage(() -> parse("{\"threshold\": \"high\"}"), "threshold must be a number");
        assertMessage(() -> parse("{\"patching_mode\": \"bpe_patcher\"}"), "patching_mode 'bpe_patcher' is not one of");
        assertMessage(() -> parse("{\"tresHold\": 1}"), "unknown field 'tresHold'");
        assertMessage(() -> parse("{\"max_patch_length\": 0}"), "max_patch_length must be >= 1");
        assertMessage(() -> parse("{\"max_patch_length\": 2.5}"), "max_patch_length must be a whole number");
        assertMessage(() -> parse("{\"monotonicity\": true, \"threshold_add\": 0.1}"), "threshold_add is ignored when monotonicity is true");
        assertMessage(() -> parse("{\"patching_mode\": \"static\", \"patch_size\": 4.5}"), "whole patch_size");
        assertMessage(() -> parse("[1]"), "expected a JSON object");
        assertThrows(IllegalArgumentException.class, () -> PatcherConfig.entropy(Double.NaN));
        assertThrows(IllegalArgumentException.class, () -> PatcherConfig.entropy(Double.POSITIVE_INFINITY));
    }

    static void assertMessage(org.junit.jupiter.api.function.Executable run, String expected) {
        PatchworkException e = assertThrows(PatchworkException.class, run);
        assertTrue(e.getMessage().startsWith("patcher_args: "), e.getMessage());
        assertTrue(e.getMessage().contains(expected), "'" + e.getMessage() + "' should contain '" + expected + "'");
    }
}

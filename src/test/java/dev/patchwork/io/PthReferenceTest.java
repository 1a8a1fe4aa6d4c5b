package dev.patchwork.io;

import dev.patchwork.model.ByteLm;
import dev.patchwork.model.ByteLmConfig;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.URISyntaxException;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The reference's own {@code consolidated.pth} files (torch 1.13, {@code torch.save({"model": state_dict})}) read to
 * exactly the tensors of the hub {@code model.safetensors} written from the same models: same names, order, shapes,
 * dtypes and bytes. The tensors are slices of the mapped zip, not copies.
 */
class PthReferenceTest {
    static Path resource(String name) throws URISyntaxException {
        return Path.of(PthReferenceTest.class.getResource("/reference-tiny/" + name).toURI());
    }

    @Test
    void entropyModelMatchesTheHubSafetensorsBitForBit() throws Exception {
        int n = assertSameTensors(resource("entropy_model_consolidated/consolidated.pth"), resource("entropy_model/model.safetensors"));
        assertEquals(21, n);
    }

    @Test
    void bltMatchesTheHubSafetensorsBitForBit() throws Exception {
        int n = assertSameTensors(resource("blt_consolidated/consolidated.pth"), resource("model.safetensors"));
        assertEquals(90, n);
    }

    private static int assertSameTensors(Path pth, Path safetensors) {
        try (PthFile p = PthFile.open(pth); SafetensorsFile s = Safetensors.open(safetensors)) {
            assertEquals(PthFile.MODEL_KEY, p.stateDictKey());
            assertEquals(s.names(), p.names()); // same set; the pth keeps state_dict() order, safetensors sorts
            for (String name : s.names()) {
                TensorEntry expected = s.tensor(name), actual = p.tensor(name);
                assertEquals(expected.dtype(), actual.dtype(), name);
                assertArrayEquals(expected.shape(), actual.shape(), name);
                assertEquals(-1, expected.data().mismatch(actual.data()), name + " differs");
                assertTrue(actual.data().isMapped(), name + " should be a slice of the mapped file");
                TorchTensor layout = p.layout(name);
                assertTrue(layout.isContiguous(), name);
                assertEquals(0, layout.storageOffset(), name);
                assertEquals(actual.data().byteSize(), layout.storage().byteSize(), name);
            }
            return p.tensors().size();
        }
    }

    @Test
    void keepsTheStateDictOrderOfTheFile() throws Exception {
        try (PthFile p = PthFile.open(resource("entropy_model_consolidated/consolidated.pth"))) {
            assertEquals("layers.0.attention.wq.weight", p.tensors().getFirst().name());
            assertEquals("0", p.layout("layers.0.attention.wq.weight").storageKey());
            assertArrayEquals(new long[]{24, 1}, p.layout("layers.0.attention.wq.weight").stride());
        }
    }

    @Test
    void loadsIntoTheEntropyModelsParameters() throws Exception {
        ByteLmConfig cfg = ByteLmConfig.read(resource("entropy_model/config.json"));
        ByteLm fromPth = ByteLm.uninitialised(cfg), fromHub = ByteLm.uninitialised(cfg);
        try (PthFile p = PthFile.open(resource("entropy_model_consolidated/consolidated.pth"))) {
            p.loadInto(fromPth.parameters());
        }
        try (SafetensorsFile s = Safetensors.open(resource("entropy_model/model.safetensors"))) {
            s.loadInto(fromHub.parameters());
        }
        MemorySegment a = fromPth.parameters().segment(), b = fromHub.parameters().segment();
        assertEquals(-1, a.mismatch(b));
        assertFalse(isAllZero(a));
    }

    private static boolean isAllZero(MemorySegment s) {
        for (long i = 0; i < s.byteSize(); i++) if (s.get(ValueLayout.JAVA_BYTE, i) != 0) return false;
        return true;
    }
}

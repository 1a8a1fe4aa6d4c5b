package dev.patchwork.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The general forms of a torch.save state dict, on hand-built files: views with storage offsets and strides
 * (transposes, rows, columns, scalars, empty tensors) sharing one storage, a plain state dict, the
 * {@code OrderedDict} with {@code _metadata} that {@code torch.save(model.state_dict())} writes, protocol 4 opcodes,
 * other storage types, parameters, and the records newer torch versions add.
 */
class PthLayoutTest {
    @TempDir
    Path dir;

    private Path file(String name, byte[] bytes) {
        return PthFiles.write(dir.resolve(name), bytes);
    }

    @Test
    void honoursStorageOffsetsAndStrides() {
        try (PthFile f = PthFile.open(file("views.pth", PthFiles.views().bytes()))) {
            assertEquals(PthFile.MODEL_KEY, f.stateDictKey());
            assertEquals(List.of("a", "t", "row", "col", "scalar", "empty", "b"), List.copyOf(f.names()));
            assertArrayEquals(new float[]{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, f.readFloats("a"));
            assertArrayEquals(new float[]{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11}, f.readFloats("t"));
            assertArrayEquals(new long[]{4, 3}, f.tensor("t").shape());
            assertArrayEquals(new float[]{8, 9, 10, 11}, f.readFloats("row"));
            assertArrayEquals(new float[]{1, 5, 9}, f.readFloats("col"));
            assertArrayEquals(new float[]{5}, f.readFloats("scalar"));
            assertArrayEquals(new long[]{}, f.tensor("scalar").shape());
            assertArrayEquals(new float[0], f.readFloats("empty"));
            assertArrayEquals(new float[]{0, 1}, f.readFloats("b"));
            // Contiguous views are slices of the mapping; the transpose and the column are gathered copies.
            assertTrue(f.tensor("row").data().isMapped());
            assertTrue(f.layout("row").isContiguous());
            assertFalse(f.layout("t").isContiguous());
            assertFalse(f.tensor("t").data().isMapped());
            assertEquals(8, f.layout("row").storageOffset());
            assertArrayEquals(new long[]{1, 4}, f.layout("t").stride());
            assertEquals("0", f.layout("col").storageKey());
        }
    }

    @Test
    void readsAPlainStateDict() {
        PickleBytes p = new PickleBytes().proto(2).emptyDict().mark();
        p.str("w").tensor("FloatStorage", "0", 12, 0, new long[]{3, 4}, new long[]{4, 1});
        p.str("v").tensor("FloatStorage", "0", 12, 4, new long[]{4}, new long[]{1});
        byte[] zip = TorchZipBytes.checkpoint("archive", p.setitems().stop().bytes(), Map.of("0", PthFiles.iota(12))).bytes();
        try (PthFile f = PthFile.open(file("plain.pt", zip))) {
            assertNull(f.stateDictKey());
            assertEquals(List.of("w", "v"), List.copyOf(f.names()));
            assertArrayEquals(new float[]{4, 5, 6, 7}, f.readFloats("v"));
        }
    }

    /** {@code torch.save(model.state_dict())}: an OrderedDict, filled by SETITEMS, then BUILD with its _metadata. */
    @Test
    void readsAnOrderedDictWithMetadata() {
        PickleBytes p = new PickleBytes().proto(2).global("collections", "OrderedDict").emptyTuple().reduce().binput(0).mark();
        p.str("w").tensor("FloatStorage", "0", 2, 0, new long[]{2}, new long[]{1});
        p.setitems();
        // state: {'_metadata': OrderedDict([('', {'version': 1})])}
        p.emptyDict().str("_metadata").global("collections", "OrderedDict").emptyTuple().reduce()
                .str("").emptyDict().str("version").integer(1).setitem().setitem().setitem();
        p.op('b').stop();
        byte[] zip = TorchZipBytes.checkpoint("archive", p.bytes(), Map.of("0", PthFiles.iota(2))).bytes();
        try (PthFile f = PthFile.open(file("od.pt", zip))) {
            assertNull(f.stateDictKey());
            assertArrayEquals(new float[]{0, 1}, f.readFloats("w"));
        }
    }

    /** Protocol 4 (torch.save with pickle_protocol=4): FRAME, SHORT_BINUNICODE, STACK_GLOBAL, MEMOIZE. */
    @Test
    void readsProtocol4Opcodes() {
        PickleBytes body = new PickleBytes().emptyDict().op(0x94).shortStr("model").op(0x94).emptyDict().op(0x94).mark();
        body.shortStr("w").op(0x94).stackGlobal("torch._utils", "_rebuild_tensor_v2").op(0x94).mark().mark()
                .shortStr("storage").op(0x94).stackGlobal("torch", "BFloat16Storage").op(0x94).shortStr("0").shortStr("cpu")
                .integer(3).tuple().op('Q').integer(0).ints(3).ints(1).newFalse()
                .stackGlobal("collections", "OrderedDict").emptyTuple().reduce().tuple().reduce();
        body.shortStr("w2").op('h').op(4).mark().mark().shortStr("storage").op('h').op(6).shortStr("0").shortStr("cpu")
                .integer(3).tuple().op('Q').integer(1).ints(2).ints(1).op(0x88) // requires_grad=True
                .emptyDict().tuple().reduce();
        body.setitems().setitem().stop();
        byte[] frame = body.bytes();
        PickleBytes p = new PickleBytes().proto(4).op(0x95)
                .raw(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(frame.length).array()).raw(frame);
        // bf16 1.0, -2.0, 0.5
        byte[] storage = {(byte) 0x80, 0x3f, 0x00, (byte) 0xc0, 0x00, 0x3f};
        byte[] zip = TorchZipBytes.checkpoint("archive", p.bytes(), Map.of("0", storage)).bytes();
        try (PthFile f = PthFile.open(file("p4.pt", zip))) {
            assertEquals(Dtype.BF16, f.tensor("w").dtype());
            assertArrayEquals(new float[]{1, -2, 0.5f}, f.readFloats("w"));
            assertArrayEquals(new float[]{-2, 0.5f}, f.readFloats("w2"));
        }
    }

    @Test
    void readsOtherStorageTypesAndParameters() {
        PickleBytes p = new PickleBytes().proto(2).emptyDict().mark();
        p.str("h").tensor("HalfStorage", "0", 2, 0, new long[]{2}, new long[]{1});
        p.str("ids").tensor("LongStorage", "1", 1, 0, new long[]{1}, new long[]{1});
        // an nn.Parameter: _rebuild_parameter(tensor, requires_grad, OrderedDict())
        p.str("p").global("torch._utils", "_rebuild_parameter").mark();
        p.tensor("FloatStorage", "2", 1, 0, new long[]{1}, new long[]{1});
        p.op(0x88).global("collections", "OrderedDict").emptyTuple().reduce().tuple().reduce();
        p.setitems().stop();
        byte[] half = {0x00, 0x3c, 0x00, (byte) 0xc0}; // 1.0, -2.0
        byte[] id = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(-7).array();
        byte[] zip = TorchZipBytes.checkpoint("archive", p.bytes(), Map.of("0", half, "1", id, "2", PthFiles.iota(1))).bytes();
        Path path = file("types.pt", zip);
        try (PthFile f = PthFile.open(path)) {
            assertArrayEquals(new float[]{1, -2}, f.readFloats("h"));
            assertEquals(Dtype.I64, f.tensor("ids").dtype());
            assertEquals(-7, f.tensor("ids").data().get(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED, 0));
            var e = assertThrows(CheckpointException.class, () -> f.readFloats("ids"));
            assertTrue(e.getMessage().startsWith(path + ": tensor ids has dtype I64"), e.getMessage());
            assertArrayEquals(new float[]{0}, f.readFloats("p"));
        }
    }

    /** torch ≥ 2.1 adds byteorder and .data/serialization_id; later versions .format_version and .storage_alignment. */
    @Test
    void toleratesTheRecordsOfNewerTorchVersions() {
        TorchZipBytes z = PthFiles.views()
                .add("views/byteorder", "little".getBytes(StandardCharsets.US_ASCII))
                .add("views/.data/serialization_id", "1234567890123456789012345678901234567890".getBytes(StandardCharsets.US_ASCII))
                .add("views/.format_version", "1".getBytes(StandardCharsets.US_ASCII))
                .add("views/.storage_alignment", "64".getBytes(StandardCharsets.US_ASCII));
        try (PthFile f = PthFile.open(file("new.pth", z.bytes()))) {
            assertArrayEquals(new float[]{8, 9, 10, 11}, f.readFloats("row"));
        }
    }

    @Test
    void readsZip64ExtraFields() {
        try (PthFile f = PthFile.open(file("zip64.pth", PthFiles.views().zip64Fields().bytes()))) {
            assertArrayEquals(new float[]{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11}, f.readFloats("t"));
        }
    }

    @Test
    void ignoresEverythingBesideTheModel() {
        PickleBytes p = new PickleBytes().proto(2).emptyDict().mark().str("model").emptyDict().mark();
        p.str("w").tensor("FloatStorage", "0", 2, 0, new long[]{2}, new long[]{1});
        p.setitems().str("optim").emptyDict().mark().str("lr").op('G')
                .raw(ByteBuffer.allocate(8).putDouble(1e-3).array()).str("betas").op(']').integer(1).op('a').integer(2).op('a')
                .str("state").mark().tensor("FloatStorage", "1", 2, 0, new long[]{2}, new long[]{1}).op('l')
                .setitems().str("step").integer(1000).str("done").op('N').setitems().stop();
        byte[] zip = TorchZipBytes.checkpoint("ckpt", p.bytes(), Map.of("0", PthFiles.iota(2), "1", PthFiles.iota(2))).bytes();
        try (PthFile f = PthFile.open(file("ckpt.pth", zip))) {
            assertEquals(PthFile.MODEL_KEY, f.stateDictKey());
            assertEquals(List.of("w"), List.copyOf(f.names()));
        }
    }

    @Test
    void openWithTheCallersArenaKeepsTheMappingAfterClose() {
        Path path = file("arena.pth", PthFiles.views().bytes());
        try (var arena = java.lang.foreign.Arena.ofConfined()) {
            TensorEntry t;
            try (PthFile f = PthFile.open(path, arena)) {
                t = f.tensor("t");
            }
            assertArrayEquals(new float[]{0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11}, t.toFloatArray());
        }
    }
}

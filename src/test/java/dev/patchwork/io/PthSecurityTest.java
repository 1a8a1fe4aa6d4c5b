package dev.patchwork.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Malicious pickles: checkpoints whose data.pkl would run code under Python's {@code pickle.load} (the classic
 * {@code os.system} payload, {@code eval}, INST, class instantiation) are refused with a message naming the global,
 * and nothing runs: the payloads would create a marker file, which must not appear.
 */
class PthSecurityTest {
    @TempDir
    Path dir;

    private Path marker() {
        return dir.resolve("pwned");
    }

    /** The message of opening a checkpoint whose data.pkl is {@code pickle}. */
    private String refusal(PickleBytes pickle) {
        Path file = PthFiles.write(dir.resolve("evil.pth"),
                TorchZipBytes.checkpoint("evil", pickle.bytes(), Map.of("0", PthFiles.iota(2))).bytes());
        CheckpointException e = assertThrows(CheckpointException.class, () -> PthFile.open(file).close());
        assertTrue(e.getMessage().startsWith(file + ": evil/data.pkl at byte "), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        assertFalse(Files.exists(marker()), "the payload ran");
        return e.getMessage();
    }

    @Test
    void refusesOsSystemThroughGlobalAndReduce() {
        String msg = refusal(new PickleBytes().proto(2).global("os", "system")
                .mark().str("touch " + marker()).tuple().reduce().stop());
        assertTrue(msg.endsWith("references global 'os.system', which a state dict never needs; refusing to load"), msg);
    }

    /** What {@code pickle.dumps} of a payload calling os.system really writes on Linux. */
    @Test
    void refusesPosixSystem() {
        String msg = refusal(new PickleBytes().proto(2).global("posix", "system")
                .str("touch " + marker()).op(0x85).reduce().stop());
        assertTrue(msg.contains("references global 'posix.system'"), msg);
    }

    @Test
    void refusesBuiltinsEvalThroughStackGlobal() {
        String msg = refusal(new PickleBytes().proto(4).stackGlobal("builtins", "eval")
                .shortStr("__import__('os').system('touch " + marker() + "')").op(0x85).reduce().stop());
        assertTrue(msg.contains("references global 'builtins.eval', which a state dict never needs"), msg);
    }

    @Test
    void refusesTheInstOpcode() {
        String msg = refusal(new PickleBytes().mark().str("touch " + marker()).op('i')
                .raw("os\nsystem\n".getBytes()).stop());
        assertTrue(msg.contains("references global 'os.system'"), msg);
        // INST of an allowed class is refused too: torch.save never writes INST
        msg = refusal(new PickleBytes().mark().op('i').raw("collections\nOrderedDict\n".getBytes()).stop());
        assertTrue(msg.contains("INST instantiates the class collections.OrderedDict"), msg);
    }

    @Test
    void refusesClassInstantiation() {
        String msg = refusal(new PickleBytes().proto(2).global("collections", "OrderedDict").emptyTuple().op(0x81).stop());
        assertTrue(msg.contains("opcode 0x81 instantiates a class"), msg);
        msg = refusal(new PickleBytes().mark().global("collections", "OrderedDict").op('o').stop());
        assertTrue(msg.contains("opcode 0x6f ('o') instantiates a class"), msg);
    }

    /** A forbidden global is refused where it appears, even inside parts of the file that are not the state dict. */
    @Test
    void refusesOtherGlobalsAnywhere() {
        for (String[] g : new String[][]{{"subprocess", "Popen"}, {"builtins", "getattr"}, {"builtins", "exec"},
                {"numpy.core.multiarray", "_reconstruct"}, {"torch", "load"}, {"torch.nn.modules.linear", "Linear"},
                {"torch._utils", "_rebuild_device_tensor_from_numpy"}, {"__builtin__", "eval"}}) {
            PickleBytes p = new PickleBytes().proto(2).emptyDict().mark().str("model").emptyDict().str("optim")
                    .global(g[0], g[1]).setitems().stop();
            String msg = refusal(p);
            assertTrue(msg.endsWith("references global '" + g[0] + "." + g[1] + "', which a state dict never needs; refusing to load"), msg);
        }
    }

    @Test
    void refusesHugeGlobalNamesWithoutEchoingThem() {
        String msg = refusal(new PickleBytes().proto(4).str("os".repeat(10_000)).str("system").op(0x93).stop());
        assertTrue(msg.endsWith("a global's name is longer than 512 characters, which no state dict needs; refusing to load"), msg);
    }

    @Test
    void refusesMisuseOfAllowedGlobals() {
        // a storage class is never called
        String msg = refusal(new PickleBytes().proto(2).global("torch", "FloatStorage").emptyTuple().reduce().stop());
        assertTrue(msg.contains("REDUCE calls a class torch.FloatStorage; only allow-listed functions can be called"), msg);
        // OrderedDict with arguments (could carry anything)
        msg = refusal(new PickleBytes().proto(2).global("collections", "OrderedDict").op(']').op(0x85).reduce().stop());
        assertTrue(msg.contains("OrderedDict is called with 1 arguments"), msg);
        // BUILD on a tensor (custom state)
        PickleBytes p = new PickleBytes().proto(2).tensor("FloatStorage", "0", 2, 0, new long[]{2}, new long[]{1})
                .emptyDict().op('b').stop();
        msg = refusal(p);
        assertTrue(msg.contains("BUILD sets the state of a tensor"), msg);
        // backward hooks that are not empty
        p = new PickleBytes().proto(2).global("torch._utils", "_rebuild_tensor_v2").mark()
                .mark().str("storage").global("torch", "FloatStorage").str("0").str("cpu").integer(2).tuple().op('Q')
                .integer(0).ints(2).ints(1).newFalse().emptyDict().str("hook").integer(1).setitem().tuple().reduce().stop();
        msg = refusal(p);
        assertTrue(msg.contains("backward_hooks must be an empty dict"), msg);
    }

    @Test
    void namesStorageTypesItCannotRead() {
        PickleBytes p = new PickleBytes().proto(2).emptyDict().str("w").tensor("ComplexFloatStorage", "0", 1, 0, new long[]{1}, new long[]{1})
                .setitem().stop();
        String msg = refusal(p);
        assertTrue(msg.contains("uses the storage type torch.ComplexFloatStorage, whose elements Patchwork cannot read"), msg);
    }

    @Test
    void aHarmlessPickleStillLoadsWithTheSameHelpers() {
        Path file = PthFiles.write(dir.resolve("ok.pth"), PthFiles.views().bytes());
        try (PthFile f = PthFile.open(file)) {
            assertEquals(7, f.tensors().size());
        }
    }
}

package dev.patchwork.io;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Broken checkpoints each give one CheckpointException whose one-line message names the file and the problem:
 * wrong or legacy formats, broken zip structure, missing records, pickle stream errors, and tensor descriptions that
 * lie about sizes, offsets or strides.
 */
class PthValidationTest {
    @TempDir
    Path dir;

    private String refusal(byte[] bytes, String expected) {
        Path file = PthFiles.write(dir.resolve("bad.pth"), bytes);
        CheckpointException e = assertThrows(CheckpointException.class, () -> PthFile.open(file).close());
        assertTrue(e.getMessage().startsWith(file + ": "), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
        assertTrue(e.getMessage().contains(expected), "expected '" + expected + "' in: " + e.getMessage());
        return e.getMessage();
    }

    private String pickleRefusal(PickleBytes pickle, String expected) {
        return refusal(TorchZipBytes.checkpoint("a", pickle.bytes(), PthFiles.viewsStorages()).bytes(), expected);
    }

    /** A pickle of {@code {"w": tensor}} whose tensor has the given storage size and view. */
    private static PickleBytes oneTensor(long numel, long offset, long[] shape, long[] stride) {
        return new PickleBytes().proto(2).emptyDict().str("w").tensor("FloatStorage", "0", numel, offset, shape, stride).setitem().stop();
    }

    @Test
    void refusesWhatIsNotAZipCheckpoint() {
        refusal(new byte[0], "is empty");
        refusal("GIF89a...".getBytes(StandardCharsets.US_ASCII), "is not a PyTorch checkpoint (no zip signature");
        // torch < 1.6: the pickled magic number 0x1950a86a20f9469cfc6c as a LONG1 after PROTO 2
        refusal(new byte[]{(byte) 0x80, 2, (byte) 0x8a, 10, 0x6c, (byte) 0xfc}, "legacy format");
        Path missing = dir.resolve("nope.pth");
        var e = assertThrows(CheckpointException.class, () -> PthFile.open(missing));
        assertTrue(e.getMessage().equals(missing + ": file not found"), e.getMessage());
        e = assertThrows(CheckpointException.class, () -> PthFile.open(dir));
        assertTrue(e.getMessage().endsWith("is a directory, not a PyTorch checkpoint"), e.getMessage());
    }

    @Test
    void refusesBrokenZipStructure() {
        byte[] good = PthFiles.views().bytes();
        refusal(Arrays.copyOf(good, good.length / 2), "no end-of-central-directory record");
        refusal(Arrays.copyOf(good, good.length - 1), "no end-of-central-directory record");
        TorchZipBytes z = PthFiles.views();
        byte[] b = z.bytes();
        // central directory offset beyond the file (ZIP64 end record field)
        byte[] bad = b.clone();
        ByteBuffer.wrap(bad).order(ByteOrder.LITTLE_ENDIAN).putLong(z.layout().end() - 20 - 56 + 48, 1L << 40);
        refusal(bad, "lies outside the file");
        // a central directory entry whose signature is broken
        bad = b.clone();
        bad[z.layout().centralDirectory()] ^= 1;
        refusal(bad, "bad central directory entry");
        // a local header that is not where the directory says
        bad = b.clone();
        bad[z.layout().localHeaders().get(1)] ^= 1;
        refusal(bad, "no local header for entry views/data/0 at byte " + z.layout().localHeaders().get(1));
        // data.pkl's size in the directory runs into the central directory
        bad = b.clone();
        int first = z.layout().centralDirectory();
        ByteBuffer.wrap(bad).order(ByteOrder.LITTLE_ENDIAN).putInt(first + 20, 1 << 30).putInt(first + 24, 1 << 30);
        refusal(bad, "the data of entry views/data.pkl (1073741824 bytes at byte 64) runs into the central directory");
    }

    @Test
    void refusesCompressedAndEncryptedRecords() {
        refusal(PthFiles.views().method("views/data/0", 8).bytes(), "zip entry views/data/0 is compressed (method 8)");
        TorchZipBytes z = PthFiles.views();
        byte[] b = z.bytes();
        b[z.layout().centralDirectory() + 8] |= 1; // data.pkl encrypted
        refusal(b, "zip entry views/data.pkl is encrypted");
    }

    @Test
    void refusesMissingRecords() {
        TorchZipBytes noPickle = new TorchZipBytes().add("a/data/0", PthFiles.iota(12)).add("a/version", "3\n".getBytes());
        refusal(noPickle.bytes(), "has no a/data.pkl, so it is not a torch.save checkpoint");
        refusal(new TorchZipBytes().add("data.pkl", oneTensor(2, 0, new long[]{2}, new long[]{1}).bytes()).bytes(),
                "the first zip entry data.pkl is not in a folder");
        Map<String, byte[]> storages = new LinkedHashMap<>();
        storages.put("1", PthFiles.iota(2));
        refusal(TorchZipBytes.checkpoint("a", oneTensor(2, 0, new long[]{2}, new long[]{1}).bytes(), storages).bytes(),
                "tensor w needs the storage record a/data/0, which the zip lacks");
        refusal(new TorchZipBytes().bytes(), "no zip signature"); // an empty zip starts with its end record
    }

    @Test
    void refusesBigEndianTensors() {
        refusal(PthFiles.views().add("views/byteorder", "big".getBytes()).bytes(), "holds big-endian tensors");
        refusal(PthFiles.views().add("views/byteorder", "middle".getBytes()).bytes(), "the byteorder record says 'middle'");
    }

    @Test
    void refusesSizesOffsetsAndStridesThatLie() {
        // the storage record holds 12 floats, the persistent id claims 13
        pickleRefusal(oneTensor(13, 0, new long[]{13}, new long[]{1}),
                "storage record a/data/0 holds 48 bytes, but data.pkl describes it as 13 elements of torch.FloatStorage");
        pickleRefusal(oneTensor(12, 0, new long[]{13}, new long[]{1}), "reaches element 12, beyond its storage of 12 elements");
        pickleRefusal(oneTensor(12, 9, new long[]{4}, new long[]{1}), "reaches element 12, beyond its storage of 12 elements");
        pickleRefusal(oneTensor(12, 0, new long[]{3, 4}, new long[]{5, 1}), "reaches element 13");
        pickleRefusal(oneTensor(12, 0, new long[]{3, 2}, new long[]{1L << 62, 1}), "overflow 64 bits");
        pickleRefusal(oneTensor(12, 0, new long[]{1L << 32, 1L << 32}, new long[]{0, 0}), "overflow 64 bits");
        pickleRefusal(oneTensor(12, 13, new long[]{0}, new long[]{1}), "beyond its storage of 12 elements");
        // a broadcast view (stride 0) would need far more memory than the file holds
        pickleRefusal(oneTensor(12, 0, new long[]{1 << 20, 1 << 20}, new long[]{0, 0}),
                "copying such views would take more memory than the file's size");
        pickleRefusal(oneTensor(12, 0, new long[]{2, 2}, new long[]{2}), "a tensor has 2 sizes but 1 strides");
        pickleRefusal(oneTensor(12, 0, new long[]{-1}, new long[]{1}), "a tensor's size -1 is negative");
        pickleRefusal(new PickleBytes().proto(2).emptyDict().str("w")
                .global("torch._utils", "_rebuild_tensor_v2").mark().mark().str("storage").global("torch", "FloatStorage")
                .str("0").str("cpu").integer(20).tuple().op('Q').integer(0).ints(12).ints(1).newFalse()
                .emptyDict().tuple().reduce().setitem()
                .str("v").global("torch._utils", "_rebuild_tensor_v2").mark().mark().str("storage").global("torch", "FloatStorage")
                .str("0").str("cpu").integer(12).tuple().op('Q').integer(0).ints(12).ints(1).newFalse()
                .emptyDict().tuple().reduce().setitem().stop(),
                "storage 0 is described twice, as torch.FloatStorage of 20 and as torch.FloatStorage of 12");
    }

    @Test
    void refusesPickleStreamErrors() {
        pickleRefusal(new PickleBytes().proto(2).op('I').raw("1\n".getBytes()).stop(), "opcode 0x49 ('I') is not one that torch.save writes");
        pickleRefusal(new PickleBytes().proto(2).op(0xff), "opcode 0xff is not one that torch.save writes");
        pickleRefusal(new PickleBytes().proto(2).reduce(), "at byte 2: stack underflow");
        pickleRefusal(new PickleBytes().proto(2).integer(1).mark().integer(2).op(0x86), "needs 2 values, the stack holds 2 above the last mark");
        pickleRefusal(new PickleBytes().proto(2).emptyDict().binget(9), "memo miss: nothing was stored at index 9");
        PickleBytes deep = new PickleBytes().proto(2);
        for (int i = 0; i < 10_000; i++) deep.mark();
        pickleRefusal(deep, "marks nest deeper than 100");
        PickleBytes nestedLists = new PickleBytes().proto(2);
        for (int i = 0; i < 10_000; i++) nestedLists.op(']');
        for (int i = 0; i < 9_999; i++) nestedLists.op('a');
        pickleRefusal(nestedLists.stop(), "holds a list, not a state dict"); // deep nesting builds fine, no recursion
        byte[] nones = new byte[StateDictUnpickler.MAX_STACK + 1];
        Arrays.fill(nones, (byte) 'N');
        pickleRefusal(new PickleBytes().proto(2).raw(nones).stop(), "the stack exceeds 1048576 values");
        pickleRefusal(new PickleBytes().proto(2).emptyDict(), "the pickle ends without STOP (truncated)");
        pickleRefusal(new PickleBytes().proto(2).op('X').raw(new byte[]{(byte) 0xf0, (byte) 0xff, (byte) 0xff, 0x7f}),
                "truncated: needs 2147483632 bytes, 0 are left");
        pickleRefusal(new PickleBytes().proto(2).op(0x8a).op(9).raw(new byte[9]).stop(), "an integer of 9 bytes does not fit in 64 bits");
        pickleRefusal(new PickleBytes().proto(2).op(0x8c).op(2).raw(new byte[]{(byte) 0xc3, 0x28}).stop(), "not valid UTF-8");
        pickleRefusal(new PickleBytes().proto(1).stop(), "pickle protocol 1 is not supported");
        pickleRefusal(new PickleBytes().proto(2).op('c').raw("os".getBytes()), "not a newline-terminated line");
        pickleRefusal(new PickleBytes().proto(2).stop(), "STOP with an empty stack");
        pickleRefusal(new PickleBytes().proto(2).emptyDict().op(']').integer(1).setitem().stop(), "a dict key is a list");
        pickleRefusal(new PickleBytes().proto(2).integer(1).integer(2).op('a').stop(), "appends to a int, not to a list");
    }

    @Test
    void refusesWhatIsNotAStateDict() {
        pickleRefusal(new PickleBytes().proto(2).op(']').stop(), "holds a list, not a state dict");
        pickleRefusal(new PickleBytes().proto(2).emptyDict().str("step").integer(3).setitem().stop(),
                "holds no state dict: expected {name: tensor} or {\"model\": {name: tensor}}, found a dict with keys step");
        pickleRefusal(new PickleBytes().proto(2).emptyDict().str("model").emptyDict().str("w").str("oops").setitem().setitem().stop(),
                "state dict entry w is a str, not a tensor");
        pickleRefusal(new PickleBytes().proto(2).emptyDict().integer(7)
                .tensor("FloatStorage", "0", 12, 0, new long[]{2}, new long[]{1}).setitem().stop(), "a state dict key is a int, not a string");
    }

    @Test
    void theMessageIsOneLineEvenForNamesWithControlCharacters() throws Exception {
        String msg = pickleRefusal(new PickleBytes().proto(2).emptyDict().str("model").emptyDict().str("w\nx").str("oops")
                .setitem().setitem().stop(), "state dict entry w\\u000ax is a str");
        assertFalse(msg.contains("\n"));
        assertTrue(Files.exists(dir.resolve("bad.pth")));
    }
}

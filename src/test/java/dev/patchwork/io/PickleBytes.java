package dev.patchwork.io;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * Writes pickle opcodes by hand, to build the streams torch.save writes (protocol 2, as in the reference's files)
 * and malicious or malformed ones. Independent of the reader under test.
 */
final class PickleBytes {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    PickleBytes op(int opcode) {
        out.write(opcode);
        return this;
    }

    PickleBytes raw(byte... bytes) {
        out.writeBytes(bytes);
        return this;
    }

    PickleBytes proto(int version) {
        return op(0x80).op(version);
    }

    PickleBytes mark() {
        return op('(');
    }

    PickleBytes emptyDict() {
        return op('}');
    }

    PickleBytes emptyTuple() {
        return op(')');
    }

    PickleBytes tuple() {
        return op('t');
    }

    PickleBytes setitems() {
        return op('u');
    }

    PickleBytes setitem() {
        return op('s');
    }

    PickleBytes reduce() {
        return op('R');
    }

    PickleBytes stop() {
        return op('.');
    }

    PickleBytes newFalse() {
        return op(0x89);
    }

    PickleBytes binput(int index) {
        return op('q').op(index);
    }

    PickleBytes binget(int index) {
        return op('h').op(index);
    }

    /** BINUNICODE: 4-byte length, UTF-8. */
    PickleBytes str(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        op('X').raw(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(b.length).array());
        return raw(b);
    }

    /** SHORT_BINUNICODE (protocol 4). */
    PickleBytes shortStr(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        return op(0x8c).op(b.length).raw(b);
    }

    /** The smallest of BININT1, BININT2, BININT and LONG1, as pickle chooses. */
    PickleBytes integer(long v) {
        if (v >= 0 && v < 256) return op('K').op((int) v);
        if (v >= 0 && v < 65536) return op('M').op((int) v & 0xFF).op((int) (v >> 8));
        if (v >= Integer.MIN_VALUE && v <= Integer.MAX_VALUE)
            return op('J').raw(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt((int) v).array());
        return op(0x8a).op(8).raw(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array());
    }

    /** GLOBAL "module\nname\n" (protocol 2). */
    PickleBytes global(String module, String name) {
        return op('c').raw((module + "\n" + name + "\n").getBytes(StandardCharsets.UTF_8));
    }

    /** STACK_GLOBAL (protocol 4): module and name as strings on the stack. */
    PickleBytes stackGlobal(String module, String name) {
        return shortStr(module).shortStr(name).op(0x93);
    }

    /** A tuple of ints: MARK, ints, TUPLE. */
    PickleBytes ints(long... values) {
        mark();
        for (long v : values) integer(v);
        return tuple();
    }

    /**
     * {@code _rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())} with the storage given as
     * torch.save's persistent id {@code ('storage', torch.<storageType>, key, 'cpu', numel)}.
     */
    PickleBytes tensor(String storageType, String key, long numel, long offset, long[] shape, long[] stride) {
        global("torch._utils", "_rebuild_tensor_v2").mark();
        mark().str("storage").global("torch", storageType).str(key).str("cpu").integer(numel).tuple().op('Q');
        integer(offset).ints(shape).ints(stride).newFalse();
        global("collections", "OrderedDict").emptyTuple().reduce();
        return tuple().reduce();
    }

    byte[] bytes() {
        return out.toByteArray();
    }
}

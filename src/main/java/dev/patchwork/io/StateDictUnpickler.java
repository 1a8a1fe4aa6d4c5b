package dev.patchwork.io;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A pickle reader that executes nothing: it understands the opcodes {@code torch.save} writes for a state dict and
 * resolves only the handful of globals a state dict needs, each to an inert Java value. Any other global ({@code
 * os.system}, {@code builtins.eval}, a numpy or user class...) is refused before anything is built, so a malicious
 * checkpoint can do nothing but fail to load.
 *
 * <p>Python values become: {@code str} → String, {@code int} → Long, {@code float} → Double, {@code bool} →
 * Boolean, {@code None} → null, list → {@link ArrayList}, tuple → {@link Tuple}, dict and {@code OrderedDict} →
 * {@link LinkedHashMap} (insertion order, as in Python). Storages ({@code BINPERSID}) become {@link Storage}s and
 * {@code torch._utils._rebuild_tensor_v2(...)} becomes a {@link Tensor}: a description, resolved against the zip's
 * records later by {@link PthFile}.
 *
 * <p>The machine is a loop over the bytes (no recursion) and every count read from the stream is checked against the
 * bytes left, the stack, the nesting and the number of objects are bounded, so corrupt input cannot hang it or
 * exhaust memory.
 */
final class StateDictUnpickler {
    /** MARK nesting; torch's pickles nest three deep (a storage tuple in an argument tuple in a dict). */
    static final int MAX_MARK_DEPTH = 100;
    /** Values on the stack at once; pickle writes dicts in batches of 1000 items, so a few thousand suffice. */
    static final int MAX_STACK = 1 << 20;
    /** Objects and memo slots in total: ~25 per tensor, so room for state dicts of a few hundred thousand tensors. */
    static final int MAX_OBJECTS = 1 << 23;
    /** Dimensions of a tensor (PyTorch's own limit is 64 too). */
    static final int MAX_DIMS = 64;

    /** A Python tuple (immutable; may hold None, hence not {@code List.of}). */
    record Tuple(List<Object> items) {
        int size() {
            return items.size();
        }

        Object get(int i) {
            return items.get(i);
        }
    }

    /** A storage record named by a persistent id: {@code data/<key>} holds {@code numel} elements of {@code dtype}. */
    record Storage(String key, Dtype dtype, String typeName, long numel) {}

    /** A tensor: {@code shape}/{@code stride} in elements over {@code storage}, starting at element {@code offset}. */
    record Tensor(Storage storage, long offset, long[] shape, long[] stride) {}

    /** A storage class: the second element of a persistent id. */
    private record StorageClass(String name, Dtype dtype) {}

    /** The only functions a REDUCE may call, each of which builds an inert value. */
    private enum Callable {
        ORDERED_DICT("collections.OrderedDict"),
        REBUILD_TENSOR_V2("torch._utils._rebuild_tensor_v2"),
        REBUILD_TENSOR("torch._utils._rebuild_tensor"),
        REBUILD_PARAMETER("torch._utils._rebuild_parameter");

        final String qualifiedName;

        Callable(String qualifiedName) {
            this.qualifiedName = qualifiedName;
        }
    }

    /** torch's typed storage classes and the element type of each. */
    private static final Map<String, Dtype> STORAGE_TYPES = Map.ofEntries(
            Map.entry("torch.DoubleStorage", Dtype.F64), Map.entry("torch.FloatStorage", Dtype.F32),
            Map.entry("torch.HalfStorage", Dtype.F16), Map.entry("torch.BFloat16Storage", Dtype.BF16),
            Map.entry("torch.LongStorage", Dtype.I64), Map.entry("torch.IntStorage", Dtype.I32),
            Map.entry("torch.ShortStorage", Dtype.I16), Map.entry("torch.CharStorage", Dtype.I8),
            Map.entry("torch.ByteStorage", Dtype.U8), Map.entry("torch.BoolStorage", Dtype.BOOL),
            // An untyped storage is counted in bytes.
            Map.entry("torch.UntypedStorage", Dtype.U8), Map.entry("torch.storage.UntypedStorage", Dtype.U8));

    private static final ValueLayout.OfInt I32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong I64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong F64_BE = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final int MAX_GLOBAL_NAME = 512;

    /** Why the stream was refused; {@link PthFile} adds the file and record names. */
    static final class PickleException extends RuntimeException {
        PickleException(String message) {
            super(message, null, false, false);
        }
    }

    private final MemorySegment in;
    private final long size;
    private long pos;
    private long opcodeAt;
    private int opcode;
    private final ArrayList<Object> stack = new ArrayList<>();
    private int[] marks = new int[8];
    private int markDepth;
    private final Map<Long, Object> memo = new HashMap<>();
    private final Map<String, Storage> storages = new HashMap<>();
    private int objects;

    private StateDictUnpickler(MemorySegment in) {
        this.in = in;
        this.size = in.byteSize();
    }

    /** The object {@code pickle} describes; a refused or malformed stream is a {@link PickleException}. */
    static Object load(MemorySegment pickle) {
        return new StateDictUnpickler(pickle).run();
    }

    private Object run() {
        while (pos < size) {
            opcodeAt = pos;
            opcode = u8();
            switch (opcode) {
                case 0x80 -> { // PROTO
                    int version = u8();
                    if (version < 2 || version > 5) throw fail("pickle protocol " + version + " is not supported (torch.save writes 2)");
                }
                case 0x95 -> requireAvailable(u64("frame")); // FRAME: a read-ahead hint; its opcodes follow inline
                case '.' -> { // STOP
                    if (stack.isEmpty()) throw fail("STOP with an empty stack");
                    return stack.removeLast();
                }
                case '(' -> pushMark(); // MARK
                case '}' -> push(new LinkedHashMap<>()); // EMPTY_DICT
                case ']' -> push(new ArrayList<>()); // EMPTY_LIST
                case ')' -> push(new Tuple(List.of())); // EMPTY_TUPLE
                case 'N' -> push(null); // NONE
                case 0x88 -> push(Boolean.TRUE); // NEWTRUE
                case 0x89 -> push(Boolean.FALSE); // NEWFALSE
                case 'J' -> push((long) in.get(I32, take(4))); // BININT
                case 'K' -> push((long) u8()); // BININT1
                case 'M' -> push((long) (u8() | u8() << 8)); // BININT2
                case 0x8a -> push(longOfBytes(u8())); // LONG1
                case 0x8b -> push(longOfBytes(in.get(I32, take(4)))); // LONG4
                case 'G' -> push(Double.longBitsToDouble(in.get(F64_BE, take(8)))); // BINFLOAT
                case 'X' -> push(utf8(in.get(I32, take(4)) & 0xFFFFFFFFL)); // BINUNICODE
                case 0x8c -> push(utf8(u8())); // SHORT_BINUNICODE
                case 0x8d -> push(utf8(u64("string"))); // BINUNICODE8
                case 't' -> push(new Tuple(popToMark())); // TUPLE
                case 0x85 -> push(tupleOf(1)); // TUPLE1
                case 0x86 -> push(tupleOf(2)); // TUPLE2
                case 0x87 -> push(tupleOf(3)); // TUPLE3
                case 'l' -> push(new ArrayList<>(popToMark())); // LIST
                case 'd' -> { // DICT
                    Map<Object, Object> dict = new LinkedHashMap<>();
                    putAll(dict, popToMark());
                    push(dict);
                }
                case 's' -> { // SETITEM
                    Object value = pop(), key = pop();
                    putAll(dictOnTop(), Arrays.asList(key, value));
                }
                case 'u' -> { // SETITEMS
                    List<Object> items = popToMark();
                    putAll(dictOnTop(), items);
                }
                case 'a' -> { // APPEND (pop the value before looking at the list below it)
                    Object value = pop();
                    listOnTop().add(value);
                }
                case 'e' -> { // APPENDS
                    List<Object> items = popToMark();
                    listOnTop().addAll(items);
                }
                case 'q' -> memoPut(u8()); // BINPUT
                case 'r' -> memoPut(in.get(I32, take(4)) & 0xFFFFFFFFL); // LONG_BINPUT
                case 0x94 -> memoPut(memo.size()); // MEMOIZE
                case 'h' -> memoGet(u8()); // BINGET
                case 'j' -> memoGet(in.get(I32, take(4)) & 0xFFFFFFFFL); // LONG_BINGET
                case 'c' -> { // GLOBAL "module\nname\n"
                    String module = line(), name = line();
                    push(global(module, name));
                }
                case 0x93 -> { // STACK_GLOBAL
                    Object name = pop(), module = pop();
                    if (!(module instanceof String m) || !(name instanceof String n))
                        throw fail("STACK_GLOBAL needs two strings, got " + typeName(module) + " and " + typeName(name));
                    push(global(m, n));
                }
                case 'i' -> { // INST "module\nname\n": builds an instance of any class; check the name for the message
                    String module = line(), name = line();
                    global(module, name);
                    throw fail("INST instantiates the class " + module + "." + name + "; torch.save never writes it, refusing to load");
                }
                case 'R' -> { // REDUCE
                    Object args = pop(), callable = pop();
                    push(reduce(callable, args));
                }
                case 'Q' -> push(storage(pop())); // BINPERSID
                case 'b' -> build(pop(), peek()); // BUILD
                default -> throw fail(unsupported());
            }
        }
        throw fail("the pickle ends without STOP (truncated)");
    }

    private String unsupported() {
        String what = switch (opcode) {
            case 'o', 0x81, 0x92 -> "instantiates a class, which a state dict never needs; refusing to load";
            case 'P' -> "(PERSID) is a text persistent id, which torch.save never writes";
            case 0x82, 0x83, 0x84 -> "uses the extension registry, which torch.save never uses";
            default -> "is not one that torch.save writes for a state dict (corrupt data.pkl?)";
        };
        return "opcode 0x" + Integer.toHexString(opcode) + printable(opcode) + " " + what;
    }

    private static String printable(int opcode) {
        return opcode >= 0x20 && opcode < 0x7f ? " ('" + (char) opcode + "')" : "";
    }

    // ---- globals and calls ---------------------------------------------------------------------------------------

    /** The inert stand-in for an allowed global; anything else is refused here, before it could be used. */
    private Object global(String module, String name) {
        if (module.length() + name.length() > MAX_GLOBAL_NAME)
            throw fail("a global's name is longer than " + MAX_GLOBAL_NAME + " characters, which no state dict needs; refusing to load");
        String qualified = module + "." + name;
        for (Callable c : Callable.values()) if (c.qualifiedName.equals(qualified)) return c;
        Dtype dtype = STORAGE_TYPES.get(qualified);
        if (dtype != null) return new StorageClass(qualified, dtype);
        if (module.equals("torch") && name.endsWith("Storage"))
            throw fail("uses the storage type " + qualified + ", whose elements Patchwork cannot read (supported: "
                    + "Float, BFloat16, Half, Double, Long, Int, Short, Char, Byte, Bool and untyped storages)");
        throw fail("references global '" + qualified + "', which a state dict never needs; refusing to load");
    }

    private Object reduce(Object callable, Object argsObject) {
        if (!(callable instanceof Callable c))
            throw fail("REDUCE calls a " + typeName(callable) + "; only allow-listed functions can be called");
        if (!(argsObject instanceof Tuple args)) throw fail("REDUCE needs an argument tuple, got " + typeName(argsObject));
        return switch (c) {
            case ORDERED_DICT -> {
                if (args.size() != 0) throw fail("OrderedDict is called with " + args.size() + " arguments; torch.save passes none");
                yield new LinkedHashMap<>();
            }
            // _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, backward_hooks[, metadata])
            case REBUILD_TENSOR_V2 -> {
                if (args.size() != 6 && args.size() != 7) throw fail(c.qualifiedName + " takes 6 or 7 arguments, got " + args.size());
                requireType(args.get(4), Boolean.class, "requires_grad");
                requireEmptyDict(args.get(5), "backward_hooks");
                if (args.size() == 7 && args.get(6) != null) requireEmptyDict(args.get(6), "metadata");
                yield tensor(args);
            }
            // _rebuild_tensor(storage, offset, size, stride), from older torch versions
            case REBUILD_TENSOR -> {
                if (args.size() != 4) throw fail(c.qualifiedName + " takes 4 arguments, got " + args.size());
                yield tensor(args);
            }
            // _rebuild_parameter(data, requires_grad, backward_hooks): an nn.Parameter is its tensor
            case REBUILD_PARAMETER -> {
                if (args.size() != 3) throw fail(c.qualifiedName + " takes 3 arguments, got " + args.size());
                if (!(args.get(0) instanceof Tensor t)) throw fail(c.qualifiedName + " needs a tensor, got " + typeName(args.get(0)));
                requireType(args.get(1), Boolean.class, "requires_grad");
                requireEmptyDict(args.get(2), "backward_hooks");
                yield t;
            }
        };
    }

    private Tensor tensor(Tuple args) {
        if (!(args.get(0) instanceof Storage storage))
            throw fail("a tensor needs a storage (a persistent id) as its first argument, got " + typeName(args.get(0)));
        long offset = requireType(args.get(1), Long.class, "storage_offset");
        long[] shape = dims(args.get(2), "size");
        long[] stride = dims(args.get(3), "stride");
        if (shape.length != stride.length)
            throw fail("a tensor has " + shape.length + " sizes but " + stride.length + " strides");
        if (offset < 0) throw fail("a tensor has a negative storage offset " + offset);
        return new Tensor(storage, offset, shape, stride);
    }

    private long[] dims(Object o, String what) {
        if (!(o instanceof Tuple t)) throw fail("a tensor's " + what + " must be a tuple, got " + typeName(o));
        if (t.size() > MAX_DIMS) throw fail("a tensor has " + t.size() + " dimensions (at most " + MAX_DIMS + ")");
        long[] out = new long[t.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = requireType(t.get(i), Long.class, what);
            if (out[i] < 0) throw fail("a tensor's " + what + " " + out[i] + " is negative");
        }
        return out;
    }

    /** BINPERSID: {@code ('storage', storage class, key, location, numel)}, as torch.save writes for every storage. */
    private Storage storage(Object pidObject) {
        if (!(pidObject instanceof Tuple pid) || pid.size() != 5 || !"storage".equals(pid.get(0)))
            throw fail("persistent id must be ('storage', type, key, location, numel), got a " + typeName(pidObject)
                    + (pidObject instanceof Tuple t ? " of " + t.size() : ""));
        if (!(pid.get(1) instanceof StorageClass type)) throw fail("persistent id names a " + typeName(pid.get(1)) + " as storage type");
        String key = requireType(pid.get(2), String.class, "storage key");
        requireType(pid.get(3), String.class, "storage location"); // 'cpu', 'cuda:0'...: everything is read to the CPU
        long numel = requireType(pid.get(4), Long.class, "storage size");
        if (numel < 0) throw fail("storage " + key + " has a negative size " + numel);
        Storage s = new Storage(key, type.dtype(), type.name(), numel);
        Storage earlier = storages.putIfAbsent(key, s);
        if (earlier != null && !earlier.equals(s))
            throw fail("storage " + key + " is described twice, as " + earlier.typeName() + " of " + earlier.numel()
                    + " and as " + s.typeName() + " of " + s.numel());
        return earlier != null ? earlier : s;
    }

    /**
     * BUILD sets an object's state. The only harmless case is the {@code _metadata} attribute of an OrderedDict
     * state dict (module versions), which is dropped; any other BUILD would mean an object with custom state.
     */
    private void build(Object state, Object target) {
        if (target instanceof Map<?, ?> && (state == null || state instanceof Map<?, ?>)) return;
        throw fail("BUILD sets the state of a " + typeName(target) + " from a " + typeName(state)
                + "; a state dict only ever sets an OrderedDict's attributes");
    }

    // ---- containers ----------------------------------------------------------------------------------------------

    private void putAll(Map<Object, Object> dict, List<Object> keysAndValues) {
        if (keysAndValues.size() % 2 != 0) throw fail("a dict gets an odd number (" + keysAndValues.size() + ") of keys and values");
        for (int i = 0; i < keysAndValues.size(); i += 2) {
            Object key = keysAndValues.get(i);
            // Only immutable scalar keys: they hash without looking into containers, which could be cyclic.
            if (!(key instanceof String || key instanceof Long || key instanceof Boolean || key instanceof Double))
                throw fail("a dict key is a " + typeName(key) + "; a state dict's keys are strings");
            dict.put(key, keysAndValues.get(i + 1));
        }
    }

    @SuppressWarnings("unchecked")
    private Map<Object, Object> dictOnTop() {
        Object top = peek();
        if (!(top instanceof Map<?, ?>)) throw fail("sets an item of a " + typeName(top) + ", not of a dict");
        return (Map<Object, Object>) top;
    }

    @SuppressWarnings("unchecked")
    private List<Object> listOnTop() {
        Object top = peek();
        if (!(top instanceof ArrayList<?>)) throw fail("appends to a " + typeName(top) + ", not to a list");
        return (List<Object>) top;
    }

    private Tuple tupleOf(int n) {
        if (stack.size() - (markDepth > 0 ? marks[markDepth - 1] : 0) < n)
            throw fail("needs " + n + " values, the stack holds " + stack.size() + " above the last mark");
        List<Object> top = stack.subList(stack.size() - n, stack.size());
        Tuple t = new Tuple(new ArrayList<>(top));
        top.clear();
        return t;
    }

    // ---- stack, marks, memo --------------------------------------------------------------------------------------

    private void push(Object o) {
        if (stack.size() >= MAX_STACK) throw fail("the stack exceeds " + MAX_STACK + " values");
        if (++objects > MAX_OBJECTS) throw fail("the pickle builds more than " + MAX_OBJECTS + " objects, too many for a state dict");
        stack.add(o);
    }

    private Object pop() {
        if (stack.isEmpty() || (markDepth > 0 && stack.size() <= marks[markDepth - 1]))
            throw fail("stack underflow");
        return stack.removeLast();
    }

    private Object peek() {
        if (stack.isEmpty() || (markDepth > 0 && stack.size() <= marks[markDepth - 1]))
            throw fail("stack underflow");
        return stack.getLast();
    }

    private void pushMark() {
        if (markDepth == MAX_MARK_DEPTH) throw fail("marks nest deeper than " + MAX_MARK_DEPTH);
        if (markDepth == marks.length) marks = Arrays.copyOf(marks, marks.length * 2);
        marks[markDepth++] = stack.size();
    }

    /** The values above the last mark, which is removed with them. */
    private List<Object> popToMark() {
        if (markDepth == 0) throw fail("no MARK to pop to");
        int mark = marks[--markDepth];
        List<Object> top = stack.subList(mark, stack.size());
        List<Object> items = new ArrayList<>(top);
        top.clear();
        return items;
    }

    private void memoPut(long index) {
        // A new memo slot costs memory like a new object (LONG_BINPUT can pick any of 2^32 slots).
        if (memo.put(index, peek()) == null && ++objects > MAX_OBJECTS)
            throw fail("the pickle builds more than " + MAX_OBJECTS + " objects, too many for a state dict");
    }

    private void memoGet(long index) {
        if (!memo.containsKey(index)) throw fail("memo miss: nothing was stored at index " + index);
        if (stack.size() >= MAX_STACK) throw fail("the stack exceeds " + MAX_STACK + " values");
        stack.add(memo.get(index));
    }

    // ---- reading -------------------------------------------------------------------------------------------------

    private int u8() {
        return in.get(ValueLayout.JAVA_BYTE, take(1)) & 0xFF;
    }

    /** Claims {@code n} bytes of the stream and returns where they start. */
    private long take(long n) {
        if (n < 0 || n > size - pos)
            throw fail("truncated: needs " + (n < 0 ? Long.toUnsignedString(n) : n) + " bytes, " + (size - pos) + " are left");
        long at = pos;
        pos += n;
        return at;
    }

    private void requireAvailable(long n) {
        if (n > size - pos) throw fail("truncated: a frame of " + n + " bytes, " + (size - pos) + " are left");
    }

    private long u64(String what) {
        long n = in.get(I64, take(8));
        if (n < 0) throw fail("a " + what + " length of " + Long.toUnsignedString(n) + " bytes");
        return n;
    }

    private long longOfBytes(long n) {
        if (n < 0 || n > 8) throw fail("an integer of " + Long.toUnsignedString(n) + " bytes does not fit in 64 bits");
        long at = take(n), v = 0;
        for (int i = 0; i < n; i++) v |= (in.get(ValueLayout.JAVA_BYTE, at + i) & 0xFFL) << (8 * i);
        if (n > 0 && n < 8) v = v << (64 - 8 * n) >> (64 - 8 * n); // sign-extend the two's complement
        return v;
    }

    private String utf8(long n) {
        if (n > Integer.MAX_VALUE - 8) throw fail("a string of " + n + " bytes");
        byte[] bytes = in.asSlice(take(n), n).toArray(ValueLayout.JAVA_BYTE);
        try {
            return StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw fail("a string is not valid UTF-8");
        }
    }

    /** A newline-terminated ASCII line (GLOBAL's module and name). */
    private String line() {
        long end = pos;
        while (end < size && end - pos < MAX_GLOBAL_NAME && in.get(ValueLayout.JAVA_BYTE, end) != '\n') end++;
        if (end >= size || in.get(ValueLayout.JAVA_BYTE, end) != '\n')
            throw fail("a global's name is not a newline-terminated line of at most " + MAX_GLOBAL_NAME + " bytes");
        String s = new String(in.asSlice(pos, end - pos).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.ISO_8859_1);
        pos = end + 1;
        return s;
    }

    // ---- checks and messages -------------------------------------------------------------------------------------

    private <T> T requireType(Object o, Class<T> type, String what) {
        if (!type.isInstance(o)) throw fail(what + " must be a " + typeName(type) + ", got " + typeName(o));
        return type.cast(o);
    }

    private void requireEmptyDict(Object o, String what) {
        if (!(o instanceof Map<?, ?> m) || !m.isEmpty())
            throw fail(what + " must be an empty dict, got " + (o instanceof Map<?, ?> ? "one with entries" : typeName(o)));
    }

    /** The Python-side name of a value's type, for messages (never the value itself: it may be huge or cyclic). */
    static String typeName(Object o) {
        return switch (o) {
            case null -> "None";
            case Class<?> c -> typeNameOfClass(c);
            case Callable c -> "function " + c.qualifiedName;
            case StorageClass s -> "class " + s.name();
            default -> typeNameOfClass(o.getClass());
        };
    }

    private static String typeNameOfClass(Class<?> c) {
        if (c == String.class) return "str";
        if (c == Long.class) return "int";
        if (c == Double.class) return "float";
        if (c == Boolean.class) return "bool";
        if (c == Tuple.class) return "tuple";
        if (c == Storage.class) return "storage";
        if (c == Tensor.class) return "tensor";
        if (Map.class.isAssignableFrom(c)) return "dict";
        if (List.class.isAssignableFrom(c)) return "list";
        return c.getSimpleName();
    }

    private PickleException fail(String problem) {
        return new PickleException("at byte " + opcodeAt + ": " + problem);
    }
}

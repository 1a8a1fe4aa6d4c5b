package dev.patchwork.io;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The state dict of a PyTorch checkpoint ({@code torch.save}'s zip format, PyTorch ≥ 1.6: a {@code .pt}/{@code .pth}
 * such as the reference's {@code consolidated.pth}), read without running anything and without copying tensors.
 *
 * <p>The zip is mapped into memory; its records are {@code <stem>/data.pkl} (the pickled object),
 * {@code <stem>/data/<key>} (one per storage, stored uncompressed) and a few small ones ({@code version},
 * {@code byteorder}, {@code .data/serialization_id}) that are tolerated. {@code data.pkl} is read by
 * {@link StateDictUnpickler}, which knows only the globals a state dict needs and refuses any other, so opening an
 * untrusted file can only fail. The state dict is the pickled dict itself when all its values are tensors, or its
 * {@code "model"} entry (the reference's {@code {"model": state_dict}}; other entries such as {@code "optim"} are
 * ignored).
 *
 * <p>Each tensor is a {@link TensorEntry} like a safetensors tensor: contiguous tensors are slices of the mapping;
 * the rare non-contiguous view (a transpose saved as is) is gathered into a copy, in total at most the file's size.
 * {@link #layout} gives the PyTorch view (storage, offset, strides) itself. Every problem is a one-line
 * {@link CheckpointException} naming the file.
 */
public final class PthFile implements TensorSource, AutoCloseable {
    /** The top-level key that holds the state dict in the reference's checkpoints. */
    public static final String MODEL_KEY = "model";
    private static final int MAX_BYTEORDER_RECORD = 16;

    private final Path path;
    private final Arena ownedArena; // null when the caller owns the arena
    private final String stateDictKey;
    private final List<TensorEntry> tensors;
    private final Map<String, TensorEntry> byName;
    private final Map<String, TorchTensor> layouts;

    private PthFile(Path path, Arena ownedArena, Reader r) {
        this.path = path;
        this.ownedArena = ownedArena;
        this.stateDictKey = r.stateDictKey;
        this.tensors = List.copyOf(r.tensors.values());
        this.byName = Collections.unmodifiableMap(r.tensors);
        this.layouts = Collections.unmodifiableMap(r.layouts);
    }

    /** Maps {@code path} into a shared arena (tensors readable from any thread) that {@link #close()} releases. */
    public static PthFile open(Path path) {
        Arena arena = Arena.ofShared();
        try {
            return new PthFile(path, arena, new Reader(path, arena));
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /** Maps {@code path} into the caller's arena; {@link #close()} then leaves the mapping alone. */
    public static PthFile open(Path path, Arena arena) {
        return new PthFile(path, null, new Reader(path, arena));
    }

    @Override
    public Map<String, TensorEntry> byName() {
        return byName;
    }

    @Override
    public Path path() {
        return path;
    }

    /** {@value #MODEL_KEY} if the file holds {@code {"model": state_dict, ...}}, or null if it holds the state dict itself. */
    public String stateDictKey() {
        return stateDictKey;
    }

    /** All tensors of the state dict, in its order. */
    @Override
    public List<TensorEntry> tensors() {
        return tensors;
    }

    /** The PyTorch layout (storage, offset, strides) of the tensor {@code name}. */
    public TorchTensor layout(String name) {
        tensor(name); // the same message for a missing name
        return layouts.get(name);
    }

    /** Unmaps the file (and frees gathered copies) if this object owns the arena. */
    @Override
    public void close() {
        if (ownedArena != null) ownedArena.close();
    }

    /** Reads and checks everything when a file is opened, so later calls cannot fail on a corrupt file. */
    private static final class Reader {
        private final Path path;
        private final Arena arena;
        private final MemorySegment file;
        private final ZipDirectory zip;
        private final String archive;
        private final Map<String, MemorySegment> storages = new HashMap<>();
        private long gatheredBytes;
        String stateDictKey;
        final Map<String, TensorEntry> tensors = new LinkedHashMap<>();
        final Map<String, TorchTensor> layouts = new LinkedHashMap<>();

        Reader(Path path, Arena arena) {
            this.path = path;
            this.arena = arena;
            this.file = SafetensorsFile.map(path, arena, "a PyTorch checkpoint");
            checkMagic();
            this.zip = ZipDirectory.read(path, file);
            this.archive = archiveName();
            checkByteOrder();
            Map<?, ?> stateDict = selectStateDict(unpickle());
            for (Map.Entry<?, ?> e : stateDict.entrySet()) {
                if (!(e.getKey() instanceof String name))
                    throw new CheckpointException(path, "a state dict key is a " + StateDictUnpickler.typeName(e.getKey()) + ", not a string");
                if (!(e.getValue() instanceof StateDictUnpickler.Tensor t))
                    throw new CheckpointException(path, "state dict entry " + name + " is a "
                            + StateDictUnpickler.typeName(e.getValue()) + ", not a tensor");
                add(name, t);
            }
        }

        private void checkMagic() {
            long size = file.byteSize();
            if (size == 0) throw new CheckpointException(path, "is empty, not a PyTorch checkpoint");
            if (size >= 4 && file.get(ZipDirectory.U32, 0) == ZipDirectory.LOCAL_HEADER_SIGNATURE) return;
            if ((file.get(ValueLayout.JAVA_BYTE, 0) & 0xFF) == 0x80)
                throw new CheckpointException(path, "is in PyTorch's legacy format (a bare pickle, torch < 1.6), which is "
                        + "not supported; load and save it again with a recent torch.save");
            throw new CheckpointException(path, "is not a PyTorch checkpoint (no zip signature at its start)");
        }

        /** torch.save puts every record in one folder named after the file's stem when it was saved (e.g. {@code consolidated/}). */
        private String archiveName() {
            List<String> names = zip.names();
            if (names.isEmpty()) throw new CheckpointException(path, "the zip archive is empty, not a PyTorch checkpoint");
            int slash = names.getFirst().indexOf('/');
            if (slash <= 0)
                throw new CheckpointException(path, "the first zip entry " + names.getFirst()
                        + " is not in a folder; torch.save puts all records in one (e.g. archive/data.pkl)");
            return names.getFirst().substring(0, slash);
        }

        private ZipDirectory.Entry record(String name) {
            return zip.entry(archive + "/" + name);
        }

        /** Newer torch versions record the byte order of the tensor data; only little-endian is read. */
        private void checkByteOrder() {
            ZipDirectory.Entry e = record("byteorder");
            if (e == null) return; // torch < 2.1 writes none, and only ever wrote little-endian in practice
            if (e.size() > MAX_BYTEORDER_RECORD)
                throw new CheckpointException(path, "the byteorder record has " + e.size() + " bytes; expected 'little'");
            String order = new String(zip.data(e).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.ISO_8859_1).strip();
            if (order.equals("big"))
                throw new CheckpointException(path, "holds big-endian tensors (byteorder 'big'), which are not supported; "
                        + "save it again on a little-endian machine");
            if (!order.equals("little"))
                throw new CheckpointException(path, "the byteorder record says '" + order + "'; expected 'little'");
        }

        private Object unpickle() {
            ZipDirectory.Entry pickle = record("data.pkl");
            if (pickle == null)
                throw new CheckpointException(path, "has no " + archive + "/data.pkl, so it is not a torch.save checkpoint");
            try {
                return StateDictUnpickler.load(zip.data(pickle));
            } catch (StateDictUnpickler.PickleException e) {
                throw new CheckpointException(path, archive + "/data.pkl " + e.getMessage());
            }
        }

        /** The pickled dict if it is a state dict, else its {@code "model"} entry. */
        private Map<?, ?> selectStateDict(Object top) {
            if (!(top instanceof Map<?, ?> dict))
                throw new CheckpointException(path, "holds a " + StateDictUnpickler.typeName(top) + ", not a state dict");
            boolean allTensors = dict.values().stream().allMatch(v -> v instanceof StateDictUnpickler.Tensor);
            if (allTensors) return dict;
            if (dict.get(MODEL_KEY) instanceof Map<?, ?> model) {
                stateDictKey = MODEL_KEY;
                return model;
            }
            List<String> keys = dict.keySet().stream().map(String::valueOf).toList();
            throw new CheckpointException(path, "holds no state dict: expected {name: tensor} or {\"model\": {name: tensor}}, "
                    + "found a dict with keys " + TensorNames.appendNames(new StringBuilder(), keys));
        }

        private void add(String name, StateDictUnpickler.Tensor t) {
            StateDictUnpickler.Storage s = t.storage();
            MemorySegment storage = storageBytes(name, s);
            int size = s.dtype().byteSize();
            long[] shape = t.shape(), stride = t.stride();
            long elements = 1, last = t.offset();
            try {
                for (long d : shape) elements = Math.multiplyExact(elements, d);
                for (int i = 0; i < shape.length; i++)
                    if (shape[i] > 0) last = Math.addExact(last, Math.multiplyExact(shape[i] - 1, stride[i]));
            } catch (ArithmeticException e) {
                throw new CheckpointException(path, "tensor " + name + " has sizes " + TensorEntry.format(shape)
                        + " and strides " + TensorEntry.format(stride) + " that overflow 64 bits");
            }
            TorchTensor layout = new TorchTensor(name, s.dtype(), shape, stride, t.offset(), s.key(), storage);
            boolean inside = elements == 0 ? t.offset() <= s.numel() : last < s.numel();
            if (!inside)
                throw new CheckpointException(path, "tensor " + name + " (" + layout + ") reaches element " + last
                        + ", beyond its storage of " + s.numel() + " elements");
            MemorySegment data;
            if (elements == 0) data = storage.asSlice(0, 0);
            else if (layout.isContiguous()) data = storage.asSlice(t.offset() * size, elements * size);
            else data = gather(layout, elements, size);
            tensors.put(name, new TensorEntry(path, name, s.dtype(), shape, elements, data));
            layouts.put(name, layout);
        }

        /** The bytes of a storage record, checked once against the size its persistent id gives. */
        private MemorySegment storageBytes(String tensor, StateDictUnpickler.Storage s) {
            MemorySegment cached = storages.get(s.key());
            if (cached != null) return cached;
            ZipDirectory.Entry e = record("data/" + s.key());
            if (e == null)
                throw new CheckpointException(path, "tensor " + tensor + " needs the storage record " + archive + "/data/"
                        + s.key() + ", which the zip lacks");
            long expected;
            try {
                expected = Math.multiplyExact(s.numel(), s.dtype().byteSize());
            } catch (ArithmeticException ex) {
                expected = -1;
            }
            if (e.size() != expected)
                throw new CheckpointException(path, "storage record " + e.name() + " holds " + e.size() + " bytes, but "
                        + "data.pkl describes it as " + s.numel() + " elements of " + s.typeName());
            MemorySegment bytes = zip.data(e);
            storages.put(s.key(), bytes);
            return bytes;
        }

        /**
         * Copies a non-contiguous view into row-major order. The copies of a file together may not exceed its size,
         * so a small file cannot claim huge memory through broadcast (stride 0) views.
         */
        private MemorySegment gather(TorchTensor layout, long elements, int size) {
            if (elements > (file.byteSize() - gatheredBytes) / size)
                throw new CheckpointException(path, "tensor " + layout.name() + " is a non-contiguous view of " + elements
                        + " elements, and copying such views would take more memory than the file's size");
            long bytes = elements * size;
            gatheredBytes += bytes;
            MemorySegment out = arena.allocate(bytes, Long.BYTES);
            long[] shape = layout.shape(), stride = layout.stride();
            long[] index = new long[shape.length];
            long src = layout.storageOffset();
            for (long i = 0; i < elements; i++) {
                MemorySegment.copy(layout.storage(), src * size, out, i * size, size);
                for (int d = shape.length - 1; d >= 0; d--) { // odometer: advance the last index, carry leftwards
                    src += stride[d];
                    if (++index[d] < shape[d]) break;
                    src -= stride[d] * shape[d];
                    index[d] = 0;
                }
            }
            return out;
        }
    }
}

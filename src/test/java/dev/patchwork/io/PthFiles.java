package dev.patchwork.io;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** Small hand-built PyTorch checkpoints for the PthFile tests. */
final class PthFiles {
    private PthFiles() {}

    /** Floats 0, 1, 2, ... as little-endian bytes: storage "0" of the examples. */
    static byte[] iota(int n) {
        ByteBuffer b = ByteBuffer.allocate(4 * n).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) b.putFloat(i);
        return b.array();
    }

    /**
     * {@code {"model": {...}}} with views of one 12-float storage (a [3,4] matrix of 0..11): the matrix, its
     * transpose, its last row (offset 8), its second column (offset 1, stride 4), a scalar (element 5) and an empty
     * tensor; plus a separate [2] tensor in storage "1".
     */
    static PickleBytes viewsPickle() {
        PickleBytes p = new PickleBytes().proto(2).emptyDict().str("model").emptyDict().mark();
        p.str("a").tensor("FloatStorage", "0", 12, 0, new long[]{3, 4}, new long[]{4, 1});
        p.str("t").tensor("FloatStorage", "0", 12, 0, new long[]{4, 3}, new long[]{1, 4});
        p.str("row").tensor("FloatStorage", "0", 12, 8, new long[]{4}, new long[]{1});
        p.str("col").tensor("FloatStorage", "0", 12, 1, new long[]{3}, new long[]{4});
        p.str("scalar").tensor("FloatStorage", "0", 12, 5, new long[]{}, new long[]{});
        p.str("empty").tensor("FloatStorage", "0", 12, 0, new long[]{0, 3}, new long[]{3, 1});
        p.str("b").tensor("FloatStorage", "1", 2, 0, new long[]{2}, new long[]{1});
        return p.setitems().setitem().stop();
    }

    static Map<String, byte[]> viewsStorages() {
        Map<String, byte[]> s = new LinkedHashMap<>();
        s.put("0", iota(12));
        s.put("1", iota(2));
        return s;
    }

    static TorchZipBytes views() {
        return TorchZipBytes.checkpoint("views", viewsPickle().bytes(), viewsStorages());
    }

    static Path write(Path file, byte[] bytes) {
        try {
            return Files.write(file, bytes);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}

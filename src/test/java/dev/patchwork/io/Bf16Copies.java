package dev.patchwork.io;

import dev.patchwork.tensor.WeightFormat;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/** BF16 copies of test checkpoints, written with {@link TensorCopyWriter} (float tensors rounded to nearest even). */
public final class Bf16Copies {
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private Bf16Copies() {}

    /** A copy of the safetensors file {@code src} with every tensor rounded to BF16. */
    public static void writeBf16(Path src, Path dst) {
        TensorCopyWriter w = new TensorCopyWriter();
        try (SafetensorsFile f = SafetensorsFile.open(src)) {
            for (TensorEntry t : f.tensors()) {
                float[] v = t.toFloatArray();
                MemorySegment le = MemorySegment.ofArray(new byte[2 * v.length]);
                for (int i = 0; i < v.length; i++) le.set(U16, 2L * i, WeightFormat.toBf16(v[i]));
                w.add(t.name(), Dtype.BF16, t.shape(), List.of(le));
            }
            w.write(dst);
        }
    }

    /**
     * reference-tiny's hub directory ({@code reference}: config.json, train_args.json, model.safetensors,
     * entropy_model/) copied to {@code dst} with both models' weights in BF16; returns {@code dst}.
     */
    public static Path referenceTiny(Path reference, Path dst) throws IOException {
        Files.createDirectories(dst.resolve("entropy_model"));
        for (String f : new String[]{"config.json", "train_args.json", "entropy_model/config.json"})
            Files.copy(reference.resolve(f), dst.resolve(f));
        writeBf16(reference.resolve("model.safetensors"), dst.resolve("model.safetensors"));
        writeBf16(reference.resolve("entropy_model/model.safetensors"), dst.resolve("entropy_model/model.safetensors"));
        return dst;
    }
}

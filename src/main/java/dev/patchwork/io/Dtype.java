package dev.patchwork.io;

/**
 * Element types of the safetensors format, with their names as written in the header and their size in bytes.
 * Any of them can be read as raw bytes; {@link #F32}, {@link #BF16} and {@link #F16} also convert to floats.
 */
public enum Dtype {
    BOOL(1), U8(1), I8(1), F8_E5M2(1), F8_E4M3(1),
    I16(2), U16(2), F16(2), BF16(2),
    I32(4), U32(4), F32(4),
    I64(8), U64(8), F64(8);

    private final int bytes;

    Dtype(int bytes) {
        this.bytes = bytes;
    }

    /** Bytes per element. */
    public int byteSize() {
        return bytes;
    }

    /** Whether {@link TensorEntry#toFloatArray()} and friends accept this type. */
    public boolean convertsToFloat() {
        return this == F32 || this == BF16 || this == F16;
    }

    /** The type written as {@code name} in a header, or null if the name is unknown. */
    public static Dtype fromHeaderName(String name) {
        for (Dtype d : values()) if (d.name().equals(name)) return d;
        return null;
    }
}

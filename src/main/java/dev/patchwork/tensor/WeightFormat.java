package dev.patchwork.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * How the values of a weight kept in a memory-mapped checkpoint are stored: float32, bfloat16 (the upper half of a
 * float32) or IEEE half precision, all little-endian. Kernels widen them to float32 in registers or in a small scratch.
 */
public enum WeightFormat {
    F32(4), BF16(2), F16(2);

    static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final int bytes;

    WeightFormat(int bytes) {
        this.bytes = bytes;
    }

    /** Bytes per value. */
    public int byteSize() {
        return bytes;
    }

    /** Value {@code index} of {@code data} as a float (the plain, one-value-at-a-time decoding). */
    public float get(MemorySegment data, long index) {
        return switch (this) {
            case F32 -> data.getAtIndex(ParameterBuffer.F32, index);
            case BF16 -> Float.intBitsToFloat(data.getAtIndex(U16, index) << 16);
            case F16 -> Float.float16ToFloat(data.getAtIndex(U16, index));
        };
    }

    /** The bfloat16 nearest to {@code v} (round to nearest even; NaN stays NaN), as its 16 bits. */
    public static short toBf16(float v) {
        int bits = Float.floatToRawIntBits(v);
        if (Float.isNaN(v)) return (short) ((bits >>> 16) | 0x40);
        return (short) ((bits + 0x7FFF + ((bits >>> 16) & 1)) >>> 16);
    }
}

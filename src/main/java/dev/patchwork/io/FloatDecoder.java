package dev.patchwork.io;

import dev.patchwork.tensor.ParameterBuffer;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Widens the float types of safetensors files to float32. Widening is exact for every value: BF16 is the top half of
 * a float32, and every F16 value (subnormals, infinities, NaN, -0) has an exact float32 twin.
 */
final class FloatDecoder {
    private static final ValueLayout.OfShort U16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private FloatDecoder() {}

    /** BF16 keeps float32's sign and 8 exponent bits and the top 7 mantissa bits: shift back into place. */
    static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    /** IEEE 754 binary16; the JDK's conversion handles subnormals, infinities and NaN. */
    static float f16ToFloat(short bits) {
        return Float.float16ToFloat(bits);
    }

    /** Element {@code i} of {@code src} (of type {@code dtype}) as a float. */
    static float element(MemorySegment src, Dtype dtype, long i) {
        return switch (dtype) {
            case F32 -> src.getAtIndex(ParameterBuffer.F32, i);
            case BF16 -> bf16ToFloat(src.getAtIndex(U16_LE, i));
            case F16 -> f16ToFloat(src.getAtIndex(U16_LE, i));
            default -> throw new IllegalArgumentException(dtype + " does not convert to float");
        };
    }

    /** Converts all {@code out.length} elements of {@code src} into {@code out}. */
    static void toArray(MemorySegment src, Dtype dtype, float[] out) {
        if (dtype == Dtype.F32) {
            MemorySegment.copy(src, ParameterBuffer.F32, 0, out, 0, out.length); // bulk, byte order handled
            return;
        }
        for (int i = 0; i < out.length; i++) out[i] = element(src, dtype, i);
    }

    /** Converts {@code count} elements of {@code src} into little-endian floats at {@code dst[dstByteOffset..]}. */
    static void toSegment(MemorySegment src, Dtype dtype, MemorySegment dst, long dstByteOffset, long count) {
        if (dtype == Dtype.F32) {
            MemorySegment.copy(src, 0, dst, dstByteOffset, count * Float.BYTES); // both little-endian: raw copy
            return;
        }
        for (long i = 0; i < count; i++) dst.set(ParameterBuffer.F32, dstByteOffset + i * Float.BYTES, element(src, dtype, i));
    }
}

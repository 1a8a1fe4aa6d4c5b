package dev.patchwork.layers;

/**
 * Keys and values of one attention layer for incremental decoding: row {@code t} holds the (RoPE-rotated) key and the
 * value of position {@code t}, {@code kvHeads·headDim} floats each.
 */
public final class KvCache {
    final float[] keys;
    final float[] values;
    final int width;
    final int capacity;

    public KvCache(int capacity, int kvHeads, int headDim) {
        this.capacity = capacity;
        this.width = kvHeads * headDim;
        this.keys = new float[capacity * width];
        this.values = new float[capacity * width];
    }

    public int capacity() {
        return capacity;
    }
}

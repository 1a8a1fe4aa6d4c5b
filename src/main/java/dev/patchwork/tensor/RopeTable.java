package dev.patchwork.tensor;

/**
 * Precomputed cosines and sines of rotary position embeddings for one head size, computed in float32 the way the
 * reference's {@code precompute_freqs_cis} does: {@code f_i = 1/θ^(2i/hd)}, angle {@code t·f_i}.
 *
 * <p>Besides one cosine and sine per pair, it keeps per-lane copies of the same float values for the vector kernel:
 * for position t and pair i, {@code cosInterleaved[t·hd + 2i] = cosInterleaved[t·hd + 2i + 1] = cos} and
 * {@code sinSigned[t·hd + 2i] = −sin}, {@code sinSigned[t·hd + 2i + 1] = +sin}, so that a rotated row is
 * {@code x ⊙ cosInterleaved + swapPairs(x) ⊙ sinSigned} with plain lane-wise operations (twice the memory of the
 * pair tables: 25 MB for head size 128 and 24576 positions).
 */
public final class RopeTable {
    private final int headDim;
    private final int maxPositions;
    private final float[] cos;
    private final float[] sin;
    private final float[] cosInterleaved;
    private final float[] sinSigned;

    public RopeTable(int headDim, int maxPositions, double theta) {
        if (headDim % 2 != 0) throw new IllegalArgumentException("RoPE needs an even head dimension, got " + headDim);
        this.headDim = headDim;
        this.maxPositions = maxPositions;
        int half = headDim / 2;
        cos = new float[maxPositions * half];
        sin = new float[maxPositions * half];
        float[] freqs = new float[half];
        for (int i = 0; i < half; i++) {
            float exponent = (float) (2 * i) / (float) headDim; // torch: arange(0, hd, 2).float() / hd
            float power = (float) Math.pow((float) theta, exponent);
            freqs[i] = 1.0f / power;
        }
        for (int t = 0; t < maxPositions; t++) {
            for (int i = 0; i < half; i++) {
                float angle = (float) t * freqs[i]; // fp32 outer product
                cos[t * half + i] = (float) Math.cos(angle);
                sin[t * half + i] = (float) Math.sin(angle);
            }
        }
        cosInterleaved = new float[maxPositions * headDim];
        sinSigned = new float[maxPositions * headDim];
        for (int p = 0; p < maxPositions * half; p++) {
            cosInterleaved[2 * p] = cos[p];
            cosInterleaved[2 * p + 1] = cos[p];
            sinSigned[2 * p] = -sin[p];
            sinSigned[2 * p + 1] = sin[p];
        }
    }

    public int headDim() {
        return headDim;
    }

    public int maxPositions() {
        return maxPositions;
    }

    float[] cos() {
        return cos;
    }

    float[] sin() {
        return sin;
    }

    float[] cosInterleaved() {
        return cosInterleaved;
    }

    float[] sinSigned() {
        return sinSigned;
    }
}

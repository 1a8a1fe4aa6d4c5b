package dev.patchwork.layers;

import dev.patchwork.tensor.EmbeddingKernel;
import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.tensor.ParameterLayout;
import dev.patchwork.tensor.WeightOps;
import dev.patchwork.tensor.VectorOps;

import java.util.List;
import java.util.Random;

/**
 * The hash n-gram embeddings of the BLT encoder (spec §5.2): for every hash function f and n-gram size n, a table
 * {@code [vocab, dim]} indexed by a hash of the n ids ending at each position; the rows of all tables are added to
 * the byte embedding.
 *
 * <p>Hash: {@code floorMod(Σ_{j=0}^{n−1} w[j]·P_f^j, vocab)} where {@code w} holds the n ids ending at the position,
 * the <em>oldest first</em> (power 0), zero-padded on the left at the start of each row. The sum is a 64-bit integer
 * that wraps like the reference's int64 tensors (Java {@code long} wraps the same way); about half the sums are
 * negative, so the remainder is the floor modulo (Python's {@code %}), not Java's {@code %}.
 *
 * <p>Tables are named {@code prefix + i + ".weight"} with {@code i = f·sizes + s} (function-major, as the reference
 * builds its {@code ModuleList}). The backward pass scatter-adds the output gradient into the rows used.
 */
public final class HashNgramEmbedding {
    /** The reference's primes, one per hash function, in order. */
    public static final long[] PRIMES = {1000000007L, 5915587277L, 1500450271L, 3267000013L, 5754853343L,
            4093082899L, 9576890767L, 3628273133L, 2860486313L, 5463458053L, 3367900313L};

    private final ParameterLayout.View[] tables;
    private final int[] sizes;
    private final int functions, vocab, dim;

    // state of the last forward: hashIds[t·rows + r] is the row of table t used at position r
    private int[] hashIds = new int[0];
    private float[] gathered = new float[0];
    private int rows;
    // decoding steps
    private final float[] stepRow;
    private final int[] stepId = new int[1];

    public HashNgramEmbedding(ParameterLayout.Builder layout, String prefix, List<Integer> sizes, int functions,
                              int vocab, int dim) {
        if (functions < 0 || functions > PRIMES.length)
            throw new IllegalArgumentException("hash functions must be in [0, " + PRIMES.length + "], got " + functions);
        this.sizes = sizes.stream().mapToInt(Integer::intValue).toArray();
        this.functions = functions;
        this.vocab = vocab;
        this.dim = dim;
        stepRow = new float[dim];
        tables = new ParameterLayout.View[functions * this.sizes.length];
        for (int i = 0; i < tables.length; i++) tables[i] = layout.add(prefix + i + ".weight", vocab, dim);
    }

    public int tableCount() {
        return tables.length;
    }

    /** The n-gram size of table {@code i}. */
    public int size(int table) {
        return sizes[table % sizes.length];
    }

    /** The hash function of table {@code i}. */
    public int function(int table) {
        return table / sizes.length;
    }

    /**
     * The raw 64-bit hash {@code Σ_j w[j]·prime^j} of the {@code n} ids ending at {@code ids[rowStart + t]}, with
     * ids before the row's start taken as 0; wraps on overflow.
     */
    public static long rawHash(int[] ids, int rowStart, int t, int n, long prime) {
        long sum = 0, power = 1;
        for (int j = 0; j < n; j++) {
            int pos = t - n + 1 + j;
            if (pos >= 0) sum += ids[rowStart + pos] * power;
            power *= prime;
        }
        return sum;
    }

    /**
     * Hash ids of function {@code function} and n-gram size {@code n} for every position of {@code B} rows of
     * {@code T} ids: {@code out[outOff + b·T + t]} in {@code [0, vocab)}.
     */
    public static void hashIds(int[] ids, int B, int T, int n, int function, int vocab, int[] out, int outOff) {
        long prime = PRIMES[function];
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++)
                out[outOff + b * T + t] = (int) Math.floorMod(rawHash(ids, b * T, t, n, prime), (long) vocab);
    }

    /** {@code out[B·T, dim] += Σ_tables table[hash id]}; keeps the ids for {@link #backward}. */
    public void forward(ParameterBuffer p, int[] ids, int B, int T, float[] out) {
        rows = B * T;
        if (hashIds.length < tables.length * rows) hashIds = new int[tables.length * rows];
        if (gathered.length < rows * dim) gathered = new float[rows * dim];
        for (int i = 0; i < tables.length; i++) {
            hashIds(ids, B, T, size(i), function(i), vocab, hashIds, i * rows);
            WeightOps.gather(p, tables[i], vocab, dim, hashIds, i * rows, rows, gathered, 0);
            VectorOps.addInPlace(out, 0, gathered, 0, rows * dim);
        }
    }

    /**
     * One position (a decoding step): {@code out[dim] += Σ_tables table[hash id]} for the n-grams ending at
     * {@code ids[rowStart + t]}, ids before {@code rowStart} taken as 0 (as at the start of a row in {@link #forward}).
     * Keeps nothing for a backward pass.
     */
    public void step(ParameterBuffer p, int[] ids, int rowStart, int t, float[] out) {
        for (int i = 0; i < tables.length; i++) {
            stepId[0] = (int) Math.floorMod(rawHash(ids, rowStart, t, size(i), PRIMES[function(i)]), (long) vocab);
            WeightOps.gather(p, tables[i], vocab, dim, stepId, 0, 1, stepRow, 0);
            VectorOps.addInPlace(out, 0, stepRow, 0, dim);
        }
    }

    /** Adds {@code dOut} into the rows of every table that the last forward used. */
    public void backward(ParameterBuffer g, float[] dOut) {
        for (int i = 0; i < tables.length; i++)
            EmbeddingKernel.scatterAdd(g.segment(), tables[i].offset(), dim, hashIds, i * rows, rows, dOut, 0);
    }

    /** Reference initialisation: truncated normal, σ = std, at ±3σ. */
    public void init(ParameterBuffer p, Random rng, double std) {
        for (ParameterLayout.View t : tables) Init.truncNormal(p, t, rng, std);
    }
}

package dev.patchwork.layers;

import dev.patchwork.tensor.EmbeddingKernel;
import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.tensor.ParameterLayout;
import dev.patchwork.tensor.WeightOps;

/** A lookup table {@code [vocab, dim]}: rows gathered by id; the backward pass scatter-adds into the gradient. */
public final class Embedding {
    private final ParameterLayout.View table;
    private final int vocab;
    private final int dim;

    public Embedding(ParameterLayout.Builder layout, String name, int vocab, int dim) {
        this.table = layout.add(name, vocab, dim);
        this.vocab = vocab;
        this.dim = dim;
    }

    public ParameterLayout.View table() {
        return table;
    }

    public void forward(ParameterBuffer p, int[] ids, int idsOff, int n, float[] out) {
        WeightOps.gather(p, table, vocab, dim, ids, idsOff, n, out, 0);
    }

    public void backward(ParameterBuffer g, int[] ids, int idsOff, int n, float[] dOut) {
        EmbeddingKernel.scatterAdd(g.segment(), table.offset(), dim, ids, idsOff, n, dOut, 0);
    }

    public void init(ParameterBuffer p, java.util.Random rng, double std) {
        Init.truncNormal(p, table, rng, std);
    }
}

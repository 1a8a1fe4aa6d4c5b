package dev.patchwork.patch;

import dev.patchwork.model.ByteLm;
import dev.patchwork.model.ByteLmCheckpoint;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A byte LM used to measure, at every position, how uncertain it is about the next byte: {@code H[t] = −Σ p ln p}
 * (nats) of the logits at position t, i.e. the uncertainty about byte t+1 (spec §4).
 *
 * <p>Chunking follows the reference's {@code calculate_entropies}: a document is cut into chunks of
 * {@code min(8192, max_seqlen)} ids and each chunk runs independently (positions restart at 0, no context from the
 * previous chunk). Unlike the reference, documents are never concatenated before chunking, so entropies never leak
 * from one document into the next (reference issue #123).
 */
public final class EntropyModel {
    /** The reference's chunk length. */
    public static final int REFERENCE_CHUNK = 8192;

    private final ByteLm model;
    private final int chunk;

    public EntropyModel(ByteLm model) {
        this.model = model;
        this.chunk = Math.min(REFERENCE_CHUNK, model.config().maxSeqlen());
    }

    /** Loads any byte LM checkpoint: a Patchwork run directory or the reference's hub entropy model. */
    public static EntropyModel load(Path dir) {
        return new EntropyModel(ByteLmCheckpoint.load(dir));
    }

    public ByteLm model() {
        return model;
    }

    /** Length of the independent chunks a document is cut into. */
    public int chunkLength() {
        return chunk;
    }

    /** Entropies of one document ({@code ids}, BOS first): one value per id. */
    public float[] entropies(int[] ids) {
        return entropies(List.of(ids)).get(0);
    }

    /** Entropies of several documents, each computed on its own. */
    public List<float[]> entropies(List<int[]> documents) {
        List<float[]> out = new ArrayList<>(documents.size());
        for (int[] ids : documents) {
            float[] h = new float[ids.length];
            for (int start = 0; start < ids.length; start += chunk) {
                int len = Math.min(chunk, ids.length - start);
                int[] part = java.util.Arrays.copyOfRange(ids, start, start + len);
                float[] logits = model.forward(part, 1, len);
                entropiesOfLogits(logits, len, model.vocab(), h, start);
            }
            out.add(h);
        }
        return out;
    }

    /** {@code out[outOff + t] = H(softmax(logits[t]))} in nats, computed in double for accuracy near the threshold. */
    static void entropiesOfLogits(float[] logits, int rows, int vocab, float[] out, int outOff) {
        for (int t = 0; t < rows; t++) {
            int b = t * vocab;
            double max = Double.NEGATIVE_INFINITY;
            for (int v = 0; v < vocab; v++) max = Math.max(max, logits[b + v]);
            double z = 0, s = 0;
            for (int v = 0; v < vocab; v++) {
                double d = logits[b + v] - max;
                double e = Math.exp(d);
                z += e;
                s += e * d;
            }
            // H = log z − Σ e·d / z  (with d = logit − max)
            out[outOff + t] = (float) (Math.log(z) - s / z);
        }
    }
}

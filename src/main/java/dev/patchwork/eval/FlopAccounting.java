package dev.patchwork.eval;

import dev.patchwork.model.BltConfig;
import dev.patchwork.model.ByteLmConfig;
import dev.patchwork.model.MegabyteConfig;

/**
 * FLOPs per byte with the BLT paper's accounting (§4.5, Eq. 13–17, per-operation formulas of its Appendix B; spec
 * §10), so that byte LMs, BLTs and (later) MEGABYTE and BPE models are compared on the same footing as the paper's
 * Table 2. Chinchilla-style: forward FLOPs per query position, embedding lookups cost nothing, the backward pass costs
 * twice the forward ({@link #train}). The entropy model is not counted (Eq. 13–17 have no term for it), nor are the
 * patch projections between the widths.
 *
 * <p>Notation: {@code l} layers of width {@code h} (heads × head dimension), {@code m} keys attended, {@code V} the
 * output vocabulary, {@code r} key/value vectors projected per query, {@code n_ctx} bytes of context, {@code n_p}
 * mean bytes per patch, {@code k} = {@code cross_attn_k}.
 *
 * <p>Two choices where the paper leaves freedom: the output layer of a byte-level model counts {@link #BYTE_VOCAB} =
 * 256 ids (the paper's byte vocabulary; the 4 special ids are left out, as in its formula for the BLT decoder), and
 * a local attention window longer than the context counts only the context ({@code m = min(w, n_ctx)}).
 */
public final class FlopAccounting {
    /** The output vocabulary the paper counts for byte-level models. */
    public static final int BYTE_VOCAB = 256;

    private FlopAccounting() {}

    /** Attention scores and weighted values over {@code m} keys (causal: on average half of them, plus the query). */
    public static double attention(double l, double h, double m) {
        return 4 * l * h * (m + 1) / 2;
    }

    /** The query and output projections and {@code r} key/value projections per query: {@code (2r+2)·2·l·h²}. */
    public static double qkvo(double l, double h, double r) {
        return (2 * r + 2) * 2 * l * h * h;
    }

    /** A feed-forward block with hidden width 4h (SwiGLU at 8h/3 with three matrices costs the same). */
    public static double feedForward(double l, double h) {
        return 2 * l * 2 * h * (4 * h);
    }

    /** The output layer over {@code V} ids. */
    public static double deEmbedding(double h, double V) {
        return 2 * h * V;
    }

    /** A cross-attention: attention over {@code m} keys and its projections with {@code r} key/values per query. */
    public static double crossAttention(double l, double h, double m, double r) {
        return attention(l, h, m) + qkvo(l, h, r);
    }

    /** One position of a transformer: {@code TF(h, l, m, V) = 24·l·h² + 2·l·h·(m+1) + 2·h·V}. */
    public static double transformer(double h, double l, double m, double V) {
        return feedForward(l, h) + qkvo(l, h, 1) + attention(l, h, m) + deEmbedding(h, V);
    }

    /** Training FLOPs from inference (forward) FLOPs: backward costs twice the forward. */
    public static double train(double inference) {
        return 3 * inference;
    }

    /**
     * The shape of a BLT as the accounting sees it.
     *
     * @param crossLayersEncoder encoder layers followed by a cross-attention (1, or all with
     *                           {@code cross_attn_all_layers_encoder})
     * @param crossLayersDecoder decoder layers preceded by a cross-attention (1, or all with
     *                           {@code cross_attn_all_layers_decoder})
     * @param windowEncoder      local attention window of the encoder, 0 for none (the whole context)
     * @param windowDecoder      local attention window of the decoder, 0 for none
     */
    public record BltShape(int dimGlobal, int layersGlobal, int dimEncoder, int layersEncoder, int crossLayersEncoder,
                           int windowEncoder, int dimDecoder, int layersDecoder, int crossLayersDecoder,
                           int windowDecoder, int crossAttnK) {
        public static BltShape of(BltConfig c) {
            return new BltShape(c.dimGlobal(), c.nLayersGlobal(),
                    c.dimLocalEncoder(), c.nLayersLocalEncoder(), c.crossAttnAllLayersEncoder() ? c.nLayersLocalEncoder() : 1,
                    c.localWindow(),
                    c.dimLocalDecoder(), c.nLayersLocalDecoder(), c.crossAttnAllLayersDecoder() ? c.nLayersLocalDecoder() : 1,
                    c.localWindow(), c.crossAttnK());
        }
    }

    /**
     * Inference FLOPs per byte of a BLT (Eq. 16–17): the global model once per patch, the local models once per byte,
     * the encoder cross-attention once per patch query ({@code k} per patch, each over the patch's {@code n_p} bytes)
     * and the decoder cross-attention once per byte (over {@code k} patch vectors).
     *
     * @param contextBytes {@code n_ctx}: bytes per sequence
     * @param patchSize    {@code n_p}: mean bytes per patch
     */
    public static double bltPerByte(BltShape s, double contextBytes, double patchSize) {
        checkContext(contextBytes);
        if (!(patchSize > 0)) throw new IllegalArgumentException("the mean patch size must be > 0, got " + patchSize);
        double k = s.crossAttnK();
        double global = transformer(s.dimGlobal(), s.layersGlobal(), contextBytes / patchSize, 0) / patchSize;
        double encoder = transformer(s.dimEncoder(), s.layersEncoder(), window(s.windowEncoder(), contextBytes), 0);
        double decoder = transformer(s.dimDecoder(), s.layersDecoder(), window(s.windowDecoder(), contextBytes), BYTE_VOCAB);
        double encoderCross = crossAttention(s.crossLayersEncoder(), s.dimEncoder(), patchSize, patchSize / k) * k / patchSize;
        double decoderCross = crossAttention(s.crossLayersDecoder(), s.dimDecoder(), k, k / patchSize);
        return global + encoder + decoder + encoderCross + decoderCross;
    }

    public static double bltPerByte(BltConfig c, double contextBytes, double patchSize) {
        return bltPerByte(BltShape.of(c), contextBytes, patchSize);
    }

    /** Inference FLOPs per byte of a byte-level transformer: {@code TF(h, l, min(window, n_ctx), 256)}. */
    public static double byteLmPerByte(ByteLmConfig c, double contextBytes) {
        checkContext(contextBytes);
        int w = c.slidingWindow() == null ? 0 : c.slidingWindow();
        return transformer(c.dim(), c.nLayers(), window(w, contextBytes), BYTE_VOCAB);
    }

    /**
     * Inference FLOPs per byte of MEGABYTE in the same style: the global transformer (width {@code P·D_G}) runs once
     * per patch over {@code n_ctx/P} patches, the local one once per byte over the {@code P} bytes of its patch and
     * predicts the 256 byte values: {@code TF(P·D_G, l_G, n_ctx/P, 0)/P + TF(D_L, l_L, P, 256)}. As for BLT, the
     * projection between the widths (W_GL) is not counted.
     */
    public static double megabytePerByte(MegabyteConfig c, double contextBytes) {
        checkContext(contextBytes);
        double P = c.patchSize();
        double global = transformer(c.globalWidth(), c.globalLayers(), contextBytes / P, 0) / P;
        return global + transformer(c.localDim(), c.localLayers(), Math.min(P, contextBytes), BYTE_VOCAB);
    }

    /**
     * Inference FLOPs per byte of a token-level transformer over a BPE vocabulary:
     * {@code TF(h, l, n_ctx/n_bpe, V) / n_bpe}, with {@code n_bpe} bytes per token.
     */
    public static double bpePerByte(double dim, double layers, double vocab, double contextBytes, double bytesPerToken) {
        checkContext(contextBytes);
        if (!(bytesPerToken > 0)) throw new IllegalArgumentException("bytes per token must be > 0, got " + bytesPerToken);
        return transformer(dim, layers, contextBytes / bytesPerToken, vocab) / bytesPerToken;
    }

    private static double window(int w, double contextBytes) {
        return w > 0 ? Math.min(w, contextBytes) : contextBytes;
    }

    private static void checkContext(double contextBytes) {
        if (!(contextBytes > 0)) throw new IllegalArgumentException("the context must hold > 0 bytes, got " + contextBytes);
    }
}

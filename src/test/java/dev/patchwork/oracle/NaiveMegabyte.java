package dev.patchwork.oracle;

import dev.patchwork.model.MegabyteConfig;

/**
 * Double-precision MEGABYTE forward written straight from the spec's formulas (seed-systems §1), one index at a time:
 * {@code e_t = E_glob[x_t] + E_pos[t]}; global input 0 = pad, k = concat(e of patch k−1); causal global blocks and
 * RMSNorm; {@code l_{k,p} = W_GL·g_k[p·D_G:(p+1)·D_G] + (p = 0 ? local_pad : E_loc[x_{kP+p−1}])}; causal local blocks
 * per patch, RMSNorm, output logits.
 */
public final class NaiveMegabyte {
    private NaiveMegabyte() {}

    public static double[] logits(MegabyteConfig c, OracleParams p, int[] ids, int B, int T) {
        int P = c.patchSize(), K = T / P, dG = c.globalDim(), W = c.globalWidth(), dL = c.localDim();
        double[] eGlob = p.get("global_embeddings.weight"), ePos = p.get("global_positions.weight");
        double[] globalIn = new double[B * K * W];
        for (int b = 0; b < B; b++)
            for (int k = 0; k < K; k++)
                for (int i = 0; i < W; i++) {
                    double v;
                    if (k == 0) v = p.get("global_pad")[i];
                    else {
                        int t = (k - 1) * P + i / dG, j = i % dG;
                        v = eGlob[ids[b * T + t] * dG + j] + ePos[t * dG + j];
                    }
                    globalIn[(b * K + k) * W + i] = v;
                }
        var gShape = new NaiveLayers.AttentionShape(W, c.globalHeads(), c.globalHeads(), c.globalHeadDim(), c.ropeTheta());
        boolean[][] gMask = OracleMask.causal(new int[B * K], B, K, 0, -1);
        double[] g = globalIn;
        for (int l = 0; l < c.globalLayers(); l++)
            g = NaiveLayers.block(g, B, K, gShape, c.globalFfnHidden(), c.normEps(), p, "global.layers." + l + ".", gMask);
        g = NaiveLayers.rmsNorm(g, B * K, W, p.get("global.norm.weight"), c.normEps());

        double[] wGL = p.get("global_to_local.weight"), eLoc = p.get("local_embeddings.weight"), pad = p.get("local_pad");
        double[] localIn = new double[B * T * dL];
        for (int b = 0; b < B; b++)
            for (int k = 0; k < K; k++)
                for (int q = 0; q < P; q++) {
                    int t = k * P + q, row = b * T + t;
                    for (int o = 0; o < dL; o++) {
                        double s = 0;
                        for (int j = 0; j < dG; j++) s += wGL[o * dG + j] * g[(b * K + k) * W + q * dG + j];
                        s += q == 0 ? pad[o] : eLoc[ids[row - 1] * dL + o];
                        localIn[row * dL + o] = s;
                    }
                }
        var lShape = new NaiveLayers.AttentionShape(dL, c.localHeads(), c.localHeads(), c.localHeadDim(), c.ropeTheta());
        boolean[][] lMask = OracleMask.causal(new int[B * T], B * K, P, 0, -1);
        double[] x = localIn;
        for (int l = 0; l < c.localLayers(); l++)
            x = NaiveLayers.block(x, B * K, P, lShape, c.localFfnHidden(), c.normEps(), p, "local.layers." + l + ".", lMask);
        x = NaiveLayers.rmsNorm(x, B * T, dL, p.get("local.norm.weight"), c.normEps());
        return NaiveLayers.linear(x, B * T, dL, p.get("output.weight"), c.vocabSize());
    }
}

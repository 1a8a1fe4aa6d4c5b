package dev.patchwork.train;

import dev.patchwork.tensor.Parallel;
import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.tensor.ParameterLayout;
import dev.patchwork.tensor.Simd;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

import static dev.patchwork.tensor.ParameterBuffer.F32;

/**
 * AdamW exactly as {@code torch.optim.AdamW}: decoupled weight decay {@code p ← p·(1 − lr·wd)} (on matrices only),
 * moments with bias correction, {@code p ← p − lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + ε)}. Flat loops over the parameter,
 * gradient and moment buffers, which share one layout; each value's update is the same whichever thread runs it.
 */
public final class AdamW {
    private static final VectorSpecies<Float> S = Simd.F;
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private final double beta1, beta2, eps, weightDecay;
    private final ParameterBuffer m, v;
    private long step;

    public AdamW(ParameterLayout layout, double beta1, double beta2, double eps, double weightDecay) {
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
        this.m = ParameterBuffer.allocate(layout);
        this.v = ParameterBuffer.allocate(layout);
    }

    /** First moments (saved in checkpoints for bit-identical resume). */
    public ParameterBuffer firstMoment() {
        return m;
    }

    /** Second moments. */
    public ParameterBuffer secondMoment() {
        return v;
    }

    /** Number of steps taken (the t of the bias correction). */
    public long steps() {
        return step;
    }

    public void restoreSteps(long steps) {
        this.step = steps;
    }

    /**
     * Applies one update with learning rate {@code lr} to {@code params} from {@code grads}. All views go in one
     * parallel region: each thread takes a contiguous share of their values (in layout order) and updates it view by
     * view. One region per view cost a hand-off each (39 per step for the byte LM, most of them on small vectors).
     */
    public void step(ParameterBuffer params, ParameterBuffer grads, double lr) {
        step++;
        float bc1 = (float) (1 - Math.pow(beta1, step));
        float sqrtBc2 = (float) Math.sqrt(1 - Math.pow(beta2, step));
        update.set(params, grads, (float) lr / bc1, sqrtBc2, (float) (1 - lr * weightDecay));
        try {
            Parallel.forChunks(update.chunks, update.chunks, update);
        } finally {
            update.set(null, null, 0, 0, 0); // do not keep the buffers reachable from the optimiser
        }
    }

    /** The update of a share of all views, as one reusable body: a capturing lambda would allocate on every step. */
    private final Update update = new Update();

    private final class Update implements Parallel.ChunkBody {
        private MemorySegment p, g;
        private java.util.List<ParameterLayout.View> views;
        private float stepSize, sqrtBc2, matrixDecay;
        private long total;
        private int chunks;

        void set(ParameterBuffer params, ParameterBuffer grads, float stepSize, float sqrtBc2, float matrixDecay) {
            this.p = params == null ? null : params.segment();
            this.g = grads == null ? null : grads.segment();
            this.views = params == null ? null : params.layout().views();
            this.total = params == null ? 0 : params.layout().parameterCount();
            this.chunks = total < 16_384 ? 1 : Parallel.available();
            this.stepSize = stepSize;
            this.sqrtBc2 = sqrtBc2;
            this.matrixDecay = matrixDecay;
        }

        /** Values {@code [total·c/chunks, total·(c+1)/chunks)} of the views laid end to end, in layout order. */
        @Override
        public void run(int c, int start0, int end0) {
            long from = total * c / chunks, to = total * (c + 1) / chunks, start = 0;
            for (int i = 0; i < views.size() && start < to; i++) {
                ParameterLayout.View view = views.get(i);
                long size = view.size(), s = Math.max(from, start), e = Math.min(to, start + size);
                if (s < e) {
                    float decay = view.isMatrix() ? matrixDecay : 1f;
                    // a view holds fewer than 2^31 values (its shape is int[]), so its piece fits an int
                    int n = Math.toIntExact(e - s);
                    long off = view.offset() + (s - start);
                    if (Simd.SCALAR) updateScalar(p, g, off, n, decay, stepSize, sqrtBc2);
                    else updateVector(p, g, off, n, decay, stepSize, sqrtBc2);
                }
                start += size;
            }
        }
    }

    void updateScalar(MemorySegment p, MemorySegment g, long off, int n, float decay, float stepSize, float sqrtBc2) {
        MemorySegment ms = m.segment(), vs = v.segment();
        float b1 = (float) beta1, b2 = (float) beta2, e = (float) eps;
        for (long i = off; i < off + n; i++) {
            float gi = g.getAtIndex(F32, i);
            // the vector loop's operations in its order, so a value gets the same bits in a vector or in a tail
            float mi = ms.getAtIndex(F32, i) * b1 + gi * (1 - b1);
            float vi = vs.getAtIndex(F32, i) * b2 + gi * gi * (1 - b2);
            ms.setAtIndex(F32, i, mi);
            vs.setAtIndex(F32, i, vi);
            float pi = p.getAtIndex(F32, i) * decay;
            p.setAtIndex(F32, i, pi - mi / ((float) Math.sqrt(vi) / sqrtBc2 + e) * stepSize);
        }
    }

    void updateVector(MemorySegment p, MemorySegment g, long off, int n, float decay, float stepSize, float sqrtBc2) {
        MemorySegment ms = m.segment(), vs = v.segment();
        float b1 = (float) beta1, b2 = (float) beta2, e = (float) eps;
        int i = 0;
        int bound = S.loopBound(n);
        for (; i < bound; i += S.length()) {
            long byteOff = (off + i) * Float.BYTES;
            var gv = FloatVector.fromMemorySegment(S, g, byteOff, LE);
            var mv = FloatVector.fromMemorySegment(S, ms, byteOff, LE).mul(b1).add(gv.mul(1 - b1));
            var vv = FloatVector.fromMemorySegment(S, vs, byteOff, LE).mul(b2).add(gv.mul(gv).mul(1 - b2));
            mv.intoMemorySegment(ms, byteOff, LE);
            vv.intoMemorySegment(vs, byteOff, LE);
            var denom = vv.sqrt().div(sqrtBc2).add(e);
            var pv = FloatVector.fromMemorySegment(S, p, byteOff, LE).mul(decay);
            pv.sub(mv.div(denom).mul(stepSize)).intoMemorySegment(p, byteOff, LE);
        }
        if (i < n) updateScalar(p, g, off + i, n - i, decay, stepSize, sqrtBc2);
    }
}

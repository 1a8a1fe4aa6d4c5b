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
 * moments with bias correction, {@code p ← p − lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + ε)}. One flat loop per view over the
 * parameter, gradient and moment buffers, which share one layout.
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

    /** Applies one update with learning rate {@code lr} to {@code params} from {@code grads}. */
    public void step(ParameterBuffer params, ParameterBuffer grads, double lr) {
        step++;
        float bc1 = (float) (1 - Math.pow(beta1, step));
        float sqrtBc2 = (float) Math.sqrt(1 - Math.pow(beta2, step));
        float stepSize = (float) lr / bc1;
        MemorySegment p = params.segment(), g = grads.segment();
        java.util.List<ParameterLayout.View> views = params.layout().views();
        for (int i = 0; i < views.size(); i++) { // indexed: no iterator per step
            ParameterLayout.View view = views.get(i);
            float decay = view.isMatrix() ? (float) (1 - lr * weightDecay) : 1f;
            update.set(p, g, view.offset(), decay, stepSize, sqrtBc2);
            Parallel.forRange(Math.toIntExact(view.size()), update);
        }
        update.set(null, null, 0, 0, 0, 0); // do not keep the buffers reachable from the optimiser
    }

    /** The update of one view, as one reusable body: a capturing lambda per view would allocate on every step. */
    private final ViewUpdate update = new ViewUpdate();

    private final class ViewUpdate implements Parallel.RangeBody {
        private MemorySegment p, g;
        private long off;
        private float decay, stepSize, sqrtBc2;

        void set(MemorySegment p, MemorySegment g, long off, float decay, float stepSize, float sqrtBc2) {
            this.p = p;
            this.g = g;
            this.off = off;
            this.decay = decay;
            this.stepSize = stepSize;
            this.sqrtBc2 = sqrtBc2;
        }

        @Override
        public void run(int s, int e) {
            if (Simd.SCALAR) updateScalar(p, g, off + s, e - s, decay, stepSize, sqrtBc2);
            else updateVector(p, g, off + s, e - s, decay, stepSize, sqrtBc2);
        }
    }

    void updateScalar(MemorySegment p, MemorySegment g, long off, int n, float decay, float stepSize, float sqrtBc2) {
        MemorySegment ms = m.segment(), vs = v.segment();
        float b1 = (float) beta1, b2 = (float) beta2, e = (float) eps;
        for (long i = off; i < off + n; i++) {
            float gi = g.getAtIndex(F32, i);
            float mi = b1 * ms.getAtIndex(F32, i) + (1 - b1) * gi;
            float vi = b2 * vs.getAtIndex(F32, i) + (1 - b2) * gi * gi;
            ms.setAtIndex(F32, i, mi);
            vs.setAtIndex(F32, i, vi);
            float pi = p.getAtIndex(F32, i) * decay;
            p.setAtIndex(F32, i, pi - stepSize * mi / ((float) Math.sqrt(vi) / sqrtBc2 + e));
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

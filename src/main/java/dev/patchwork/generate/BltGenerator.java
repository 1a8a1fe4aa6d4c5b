package dev.patchwork.generate;

import dev.patchwork.data.ByteTokens;
import dev.patchwork.model.Blt;
import dev.patchwork.model.ByteLm;
import dev.patchwork.patch.EntropyModel;
import dev.patchwork.patch.IncrementalPatcher;
import dev.patchwork.patch.Patcher;

import java.io.ByteArrayOutputStream;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * BLT generation with KV caches (spec §8, "incremental equivalent"): the reference's {@code generate_nocache}
 * ({@link BltNoCacheGenerator}) without re-running anything. Per new id at position t:
 * <ol>
 *   <li>one step of the entropy model (its own KV cache; restarted every {@link EntropyModel#chunkLength()} ids,
 *       as the reference computes entropies in independent chunks) gives H[t];</li>
 *   <li>the patcher's rule, one position at a time ({@link IncrementalPatcher}), says whether t ends its patch, which
 *       is where the no-cache patcher puts the boundaries on every prefix (include_next_token semantics, the relative
 *       rules, max_patch_length splits);</li>
 *   <li>{@link Blt.Session#step}: the encoder's byte layers run on the id; if its patch closed, the patch is pooled
 *       and cross-attended and the global model takes <em>one</em> step; the decoder's byte layers run on the id,
 *       cross-attending the last closed patch, and give the next id's logits.</li>
 * </ol>
 * So the global model runs once per patch instead of on the whole context at every byte. The logits equal the
 * no-cache generator's up to float rounding (tested to 1e-4), so greedy outputs agree unless two logits tie within
 * that rounding; the prompt is fed one id at a time. Conventions: {@link BltGeneration}.
 */
public final class BltGenerator implements BltGeneration {
    private final Blt model;
    private final EntropyModel entropyModel;
    private final Patcher patcher;

    /**
     * @param entropyModel the model whose entropies the patcher reads; may be null when the rule reads none
     * @throws IllegalArgumentException for a rule the incremental form cannot follow (top-k, bpe)
     */
    public BltGenerator(Blt model, EntropyModel entropyModel, Patcher patcher) {
        IncrementalPatcher.of(patcher);
        if (patcher.usesEntropies() && entropyModel == null)
            throw new IllegalArgumentException(patcher.describe() + " patching needs an entropy model");
        this.model = model;
        this.entropyModel = entropyModel;
        this.patcher = patcher;
    }

    /** The caches of one context: the entropy model's, the BLT's, and the patch rule's position. */
    private final class State {
        private final Blt.Session blt;
        private final IncrementalPatcher rule = IncrementalPatcher.of(patcher);
        private final int entropyCapacity;
        private ByteLm.Session entropy;
        private float[] entropies = new float[64];
        private float[] logits;
        private long entropyNanos;

        State(int capacity) {
            blt = model.newSession(capacity);
            entropyCapacity = entropyModel == null ? 0 : Math.min(entropyModel.chunkLength(), capacity);
        }

        /** Feeds position t of {@code ids}; keeps the logits for the next id when asked (else null). */
        void feed(int[] ids, int t, boolean wantLogits) {
            if (patcher.usesEntropies()) {
                long t0 = System.nanoTime();
                if (entropy == null || entropy.position() == entropyModel.chunkLength())
                    entropy = entropyModel.model().newSession(entropyCapacity); // the reference's independent chunks
                if (t == entropies.length) entropies = Arrays.copyOf(entropies, 2 * t);
                entropies[t] = EntropyModel.entropy(entropy.step(ids[t]), entropyModel.model().vocab());
                entropyNanos += System.nanoTime() - t0;
            }
            logits = blt.step(ids[t], rule.endsPatch(ids, entropies, t), wantLogits);
        }

        /** Patches of the context, the open one (holding the virtual next byte) included. */
        int patches() {
            return blt.patches() + 1;
        }

        int lastPatchLength() {
            return rule.openLength() + 1;
        }
    }

    /** Time per part and global steps of the caches a generation has finished with. */
    private static final class Totals {
        final Map<String, Long> parts = new LinkedHashMap<>();
        long globalSteps;

        Totals() {
            for (String part : new String[]{"entropy_model", "encoder", "global", "decoder", "sampling"}) parts.put(part, 0L);
        }

        void retire(State s) {
            parts.merge("entropy_model", s.entropyNanos, Long::sum);
            parts.merge("encoder", s.blt.encoderNanos(), Long::sum);
            parts.merge("global", s.blt.globalNanos(), Long::sum);
            parts.merge("decoder", s.blt.decoderNanos(), Long::sum);
            globalSteps += s.blt.patches();
        }
    }

    /**
     * Fresh caches filled with the context, one id at a time; while the context does not fit the model (too many ids,
     * or too many patches for the global model), its first half goes first.
     */
    private State refill(BltContext context, int capacity, Totals totals) {
        while (true) {
            while (!BltContext.fitsBytes(model, context.length())) context.dropFirstHalf();
            State s = new State(capacity);
            int n = context.length();
            // stop as soon as the patches overflow: one more id could close a patch past the global model's context
            for (int t = 0; t < n && BltContext.fitsPatches(model, s.patches()); t++) s.feed(context.ids(), t, t == n - 1);
            if (s.blt.position() == n && BltContext.fitsPatches(model, s.patches())) return s;
            totals.retire(s);
            context.dropFirstHalf();
        }
    }

    @Override
    public Result generate(int[] prompt, Settings settings, Listener listener) {
        long start = System.nanoTime();
        int[] promptIds = BltGeneration.truncate(prompt, settings.maxPromptIds());
        BltContext context = new BltContext(promptIds);
        // the context never holds more than the prompt and the generated ids
        int capacity = (int) Math.min(model.config().maxEncoderSeqLength(), (long) promptIds.length + settings.maxBytes());
        Totals totals = new Totals();
        State state = refill(context, capacity, totals);
        long promptNanos = System.nanoTime() - start;
        long promptGlobalSteps = totals.globalSteps + state.blt.patches();

        Sampler sampler = new Sampler(settings.sampling());
        int vocab = model.vocab();
        int[] generated = new int[settings.maxBytes()];
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteLmGenerator.Stop reason = ByteLmGenerator.Stop.MAX_BYTES;
        int steps = 0, contextIds = 0, contextPatches = 0;
        long samplingNanos = 0;
        while (steps < settings.maxBytes()) {
            long t0 = System.nanoTime();
            int id = sampler.sample(state.logits, vocab);
            samplingNanos += System.nanoTime() - t0;
            contextIds = context.length();
            contextPatches = state.patches();
            generated[steps] = id;
            boolean go = listener.onStep(new Step(steps, id, state.logits, contextPatches, state.lastPatchLength(), contextIds));
            steps++;
            if (settings.stopAtEos() && id == ByteTokens.EOS) {
                reason = ByteLmGenerator.Stop.EOS;
                break;
            }
            if (id >= ByteTokens.OFFSET) out.write(id - ByteTokens.OFFSET);
            if (!go) {
                reason = ByteLmGenerator.Stop.LISTENER;
                break;
            }
            if (steps == settings.maxBytes()) break; // nothing will read the next logits
            context.append(id);
            if (BltContext.fitsBytes(model, context.length())) {
                state.feed(context.ids(), context.length() - 1, true);
                if (BltContext.fitsPatches(model, state.patches())) continue;
                context.dropFirstHalf();
            }
            totals.retire(state);
            state = refill(context, capacity, totals);
        }
        totals.retire(state);
        totals.parts.put("sampling", samplingNanos);
        Stats stats = new Stats(promptIds.length, steps, contextIds, contextPatches, promptGlobalSteps,
                totals.globalSteps - promptGlobalSteps, promptNanos, System.nanoTime() - start, totals.parts);
        return new Result(Arrays.copyOf(generated, steps), out.toByteArray(), reason, stats);
    }
}

package dev.patchwork.generate;

import dev.patchwork.data.ByteTokens;
import dev.patchwork.model.Blt;
import dev.patchwork.patch.EntropyModel;
import dev.patchwork.patch.Patcher;
import dev.patchwork.patch.Patches;

import java.io.ByteArrayOutputStream;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The reference's {@code generate_nocache} ({@code bytelatent/generate_blt.py}, spec §8): at every step, on the whole
 * context, the entropy model gives one entropy per id, the patcher cuts the ids plus the virtual next byte into
 * patches, the whole BLT runs with those patches, and the next id comes from the logits of the last position. No
 * cache: each step costs a full forward pass over the context, so generating n bytes costs O(n²). It is the oracle
 * {@link BltGenerator} is tested against, and {@code patchwork generate --no-cache}. Conventions: {@link BltGeneration}.
 */
public final class BltNoCacheGenerator implements BltGeneration {
    private final Blt model;
    private final EntropyModel entropyModel;
    private final Patcher patcher;

    /**
     * @param entropyModel the model whose entropies the patcher reads; may be null when the rule reads none
     */
    public BltNoCacheGenerator(Blt model, EntropyModel entropyModel, Patcher patcher) {
        if (patcher.usesEntropies() && entropyModel == null)
            throw new IllegalArgumentException(patcher.describe() + " patching needs an entropy model");
        this.model = model;
        this.entropyModel = entropyModel;
        this.patcher = patcher;
    }

    @Override
    public Result generate(int[] prompt, Settings settings, Listener listener) {
        long start = System.nanoTime();
        long entropyNanos = 0, patchingNanos = 0, forwardNanos = 0, samplingNanos = 0, globalSteps = 0;
        int[] promptIds = BltGeneration.truncate(prompt, settings.maxPromptIds());
        BltContext context = new BltContext(promptIds);
        Sampler sampler = new Sampler(settings.sampling());
        int vocab = model.vocab();
        float[] last = new float[vocab];
        int[] generated = new int[settings.maxBytes()];
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteLmGenerator.Stop reason = ByteLmGenerator.Stop.MAX_BYTES;
        int steps = 0, contextIds = 0, contextPatches = 0;
        while (steps < settings.maxBytes()) {
            int[] ids;
            Patches patches;
            while (true) { // the context and its patches must fit the model
                if (!BltContext.fitsBytes(model, context.length())) {
                    context.dropFirstHalf();
                    continue;
                }
                ids = Arrays.copyOf(context.ids(), context.length());
                long t0 = System.nanoTime();
                float[] entropies = patcher.usesEntropies() ? entropyModel.entropies(ids) : null;
                long t1 = System.nanoTime();
                patches = patcher.patch(ids, entropies, true);
                long t2 = System.nanoTime();
                entropyNanos += t1 - t0;
                patchingNanos += t2 - t1;
                if (BltContext.fitsPatches(model, patches.count())) break;
                context.dropFirstHalf();
            }
            int N = ids.length;
            long t0 = System.nanoTime();
            float[] logits = model.forward(ids, N, patches.lengths());
            System.arraycopy(logits, (N - 1) * vocab, last, 0, vocab);
            long t1 = System.nanoTime();
            int id = sampler.sample(last, vocab);
            samplingNanos += System.nanoTime() - t1;
            forwardNanos += t1 - t0;
            globalSteps += patches.count();
            contextPatches = patches.count();
            contextIds = N;
            generated[steps] = id;
            boolean go = listener.onStep(new Step(steps, id, last, patches.count(), patches.length(patches.count() - 1), N));
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
            context.append(id);
        }
        Map<String, Long> parts = new LinkedHashMap<>();
        parts.put("entropy_model", entropyNanos);
        parts.put("patching", patchingNanos);
        parts.put("blt_forward", forwardNanos);
        parts.put("sampling", samplingNanos);
        Stats stats = new Stats(promptIds.length, steps, contextIds, contextPatches, 0, globalSteps, 0,
                System.nanoTime() - start, parts);
        return new Result(Arrays.copyOf(generated, steps), out.toByteArray(), reason, stats);
    }
}

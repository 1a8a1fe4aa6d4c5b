package dev.patchwork.generate;

import dev.patchwork.data.ByteTokens;

import java.util.Arrays;
import java.util.Map;

/**
 * Generating bytes from a BLT (spec §8), and what the two generators share: {@link BltNoCacheGenerator}, the
 * reference's {@code generate_nocache} (every step re-runs the entropy model, the patcher and the whole BLT on the
 * whole prefix; the test oracle), and {@link BltGenerator}, the same procedure with KV caches (the default), where the
 * global model runs once per patch.
 *
 * <p>Conventions, both generators (the reference's, except where marked):
 * <ul>
 *   <li>the prompt is {@code [BOS] + bytes} (no EOS), left-truncated to its last {@link Settings#maxPromptIds()} ids
 *       (the reference's {@code max_prompt_len}, 256): a longer prompt loses its BOS, as in the reference;</li>
 *   <li>at every step the patches are the patcher's on the whole context with the virtual next byte
 *       ({@code include_next_token=true}), the entropies those of the entropy model on the context's ids;</li>
 *   <li>the next id comes from the logits of the context's last position: greedy (argmax, the reference's default)
 *       or sampled ({@link Sampler}: temperature, then top-k, then top-p; the reference applies top-p <em>or</em>
 *       top-k);</li>
 *   <li>generation stops at EOS only with {@link Settings#stopAtEos()} (the reference never stops early);</li>
 *   <li>[Patchwork] when the context outgrows the model ({@code max_encoder_seq_length} ids, or more than
 *       {@code max_seqlen} patches for the global model), its first half is dropped and generation goes on (the
 *       reference would fail); the incremental generator then refills its caches from the kept half.</li>
 * </ul>
 */
public sealed interface BltGeneration permits BltGenerator, BltNoCacheGenerator {
    /** The reference's {@code max_prompt_len}. */
    int REFERENCE_MAX_PROMPT_IDS = 256;

    /**
     * @param maxBytes     ids to generate at most (special ids included; they are not written to the output bytes)
     * @param stopAtEos    stop when EOS is generated
     * @param sampling     greedy or sampling options
     * @param maxPromptIds prompts ({@code BOS + bytes}) longer than this keep their last {@code maxPromptIds} ids
     */
    record Settings(int maxBytes, boolean stopAtEos, SamplingOptions sampling, int maxPromptIds) {
        public Settings {
            if (maxBytes < 0) throw new IllegalArgumentException("max bytes must be >= 0, got " + maxBytes);
            if (maxPromptIds < 1) throw new IllegalArgumentException("max prompt ids must be >= 1, got " + maxPromptIds);
        }

        /** What the reference's {@code generate_nocache} does by default: greedy, no early stop, prompts of 256 ids. */
        public static Settings reference(int maxBytes) {
            return new Settings(maxBytes, false, SamplingOptions.greedy(), REFERENCE_MAX_PROMPT_IDS);
        }
    }

    /**
     * One generated id, with what produced it.
     *
     * @param index           0 for the first generated id
     * @param id              the id chosen
     * @param logits          the logits it was chosen from ({@code [vocab]}; valid during the callback only)
     * @param patches         patches of the context at that step, the one holding the virtual next byte included
     * @param lastPatchLength length of that last patch (1: the virtual byte alone)
     * @param contextIds      ids in the context the logits came from
     */
    record Step(int index, int id, float[] logits, int patches, int lastPatchLength, int contextIds) {}

    /** Sees every generated id (EOS and other special ids included); returns false to stop. */
    @FunctionalInterface
    interface Listener {
        Listener NONE = s -> true;

        boolean onStep(Step step);
    }

    /**
     * Counters and timings of one generation.
     *
     * @param promptIds         ids of the prompt after truncation
     * @param generated         ids generated
     * @param contextIds        ids in the context at the last step
     * @param contextPatches    patches of that context, the virtual byte's included
     * @param promptGlobalSteps global-model positions computed for the prompt before the first id (incremental only)
     * @param globalSteps       global-model positions computed after that: the incremental generator steps once per
     *                          closed patch; the no-cache one runs all the context's patches at every step
     * @param promptNanos       wall time spent on the prompt before the first id could be sampled (incremental only:
     *                          the no-cache generator has no separate prompt phase)
     * @param totalNanos        wall time of the whole call
     * @param partNanos         time per part, e.g. {@code entropy_model}, {@code encoder}, {@code global},
     *                          {@code decoder} (incremental) or {@code blt_forward} (no-cache)
     */
    record Stats(int promptIds, int generated, int contextIds, int contextPatches, long promptGlobalSteps,
                 long globalSteps, long promptNanos, long totalNanos, Map<String, Long> partNanos) {
        public double bytesPerSecond() {
            return totalNanos == 0 ? 0 : generated * 1e9 / totalNanos;
        }

        /** Global-model positions per generated id (about 1 / mean patch size for the incremental generator). */
        public double globalStepsPerByte() {
            return generated == 0 ? 0 : (double) globalSteps / generated;
        }

        /** Positions (ids and the virtual byte) per patch in the last context. */
        public double meanPatchSize() {
            return contextPatches == 0 ? 0 : (contextIds + 1.0) / contextPatches;
        }
    }

    /** The generated ids (specials included), the generated bytes (specials dropped), why it stopped, and counters. */
    record Result(int[] ids, byte[] bytes, ByteLmGenerator.Stop reason, Stats stats) {}

    /** Continues a text: the prompt's ids are {@code [BOS] + (byte + 4)…} (see {@link #promptIds}). */
    default Result generate(byte[] prompt, Settings settings, Listener listener) {
        return generate(promptIds(prompt, settings.maxPromptIds()), settings, listener);
    }

    /**
     * Continues a sequence of ids (e.g. several documents, each {@code BOS + bytes + EOS}); it too keeps its last
     * {@link Settings#maxPromptIds()} ids.
     */
    Result generate(int[] promptIds, Settings settings, Listener listener);

    /** The prompt's ids: {@code [BOS] + (byte + 4)…}, keeping the last {@code maxPromptIds} (the reference's truncation). */
    static int[] promptIds(byte[] prompt, int maxPromptIds) {
        int[] ids = new int[prompt.length + 1];
        ids[0] = ByteTokens.BOS;
        for (int i = 0; i < prompt.length; i++) ids[i + 1] = (prompt[i] & 0xff) + ByteTokens.OFFSET;
        return truncate(ids, maxPromptIds);
    }

    /** The last {@code maxPromptIds} ids, after checking that there is at least one. */
    static int[] truncate(int[] promptIds, int maxPromptIds) {
        if (promptIds.length == 0) throw new IllegalArgumentException("the prompt has no ids: give at least the BOS");
        return promptIds.length <= maxPromptIds ? promptIds
                : Arrays.copyOfRange(promptIds, promptIds.length - maxPromptIds, promptIds.length);
    }
}

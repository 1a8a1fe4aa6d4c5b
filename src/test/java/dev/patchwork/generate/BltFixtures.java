package dev.patchwork.generate;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.patchwork.io.Checkpoint;
import dev.patchwork.model.Blt;
import dev.patchwork.model.BltConfig;
import dev.patchwork.model.ByteLm;
import dev.patchwork.model.ByteLmCheckpoint;
import dev.patchwork.model.ByteLmConfig;
import dev.patchwork.patch.EntropyModel;
import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.tensor.ParameterLayout;
import dev.patchwork.util.Json;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;

/** Models for the generation tests: the reference's tiny BLT, and small random BLTs and entropy models. */
final class BltFixtures {
    private BltFixtures() {}

    static Path referenceTiny() {
        try {
            return Path.of(BltFixtures.class.getResource("/reference-tiny/config.json").toURI()).getParent();
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    static Blt referenceBlt() {
        Path dir = referenceTiny();
        Blt model = Blt.uninitialised(BltConfig.read(dir.resolve("config.json")));
        Checkpoint.loadModel(dir, model.parameters());
        return model;
    }

    static EntropyModel referenceEntropyModel() {
        return new EntropyModel(ByteLmCheckpoint.load(referenceTiny().resolve("entropy_model")));
    }

    /**
     * A small BLT config (bare object, reference field names) with every feature generation must follow: hash
     * n-grams of two functions, a local window, two decoder cross-attention layers, both projections.
     */
    static ObjectNode tinyBltConfig(int window, int maxEncoderSeqLength, int maxSeqlen) {
        ObjectNode c = Json.MAPPER.createObjectNode();
        c.put("dim_global", 32).put("dim_local_encoder", 16).put("dim_local_decoder", 16);
        c.put("n_layers_global", 2).put("n_layers_local_encoder", 2).put("n_layers_local_decoder", 2);
        c.put("n_heads_global", 4).put("n_heads_local_encoder", 2).put("n_heads_local_decoder", 2);
        c.put("cross_attn_k", 2).put("cross_attn_nheads", 2).put("cross_attn_all_layers_decoder", true);
        c.putArray("encoder_hash_byte_group_size").add(3).add(4).add(6);
        c.put("encoder_hash_byte_group_nb_functions", 2).put("encoder_hash_byte_group_vocab", 101);
        c.put("local_attention_window_len", window).put("max_encoder_seq_length", maxEncoderSeqLength).put("max_seqlen", maxSeqlen);
        c.put("multiple_of", 16).put("rope_theta", 10000.0).put("seed", 3);
        return c;
    }

    static Blt randomBlt(ObjectNode config, long seed) {
        Blt model = Blt.initialise(BltConfig.fromJson(config, "test config"));
        scramble(model.layout(), model.parameters(), seed, 2.0);
        return model;
    }

    static EntropyModel randomEntropyModel(int window, int maxSeqlen, long seed) {
        ObjectNode c = Json.MAPPER.createObjectNode();
        c.put("dim", 16).put("n_layers", 2).put("n_heads", 2).put("multiple_of", 16).put("sliding_window", window)
                .put("max_seqlen", maxSeqlen).put("rope_theta", 10000.0);
        ByteLm lm = ByteLm.initialise(ByteLmConfig.fromJson(c, "test entropy config"));
        scramble(lm.layout(), lm.parameters(), seed, 3.0);
        return new EntropyModel(lm);
    }

    /**
     * Large random weights, like the reference-tiny's (norm weights U(0.5, 1.5), embeddings N(0, 1), other matrices
     * N(0, (gain/√in)²)): the logits spread out, so argmax and patch boundaries are far from ties and rounding.
     */
    static void scramble(ParameterLayout layout, ParameterBuffer p, long seed, double gain) {
        SplittableRandom r = new SplittableRandom(seed);
        for (ParameterLayout.View v : layout.views()) {
            int[] shape = v.shape();
            long n = Arrays.stream(shape).asLongStream().reduce(1, (a, b) -> a * b);
            boolean embedding = v.name().contains("embedding") && !v.name().contains("projection");
            double std = shape.length < 2 ? 0 : embedding ? 1 : gain / Math.sqrt(shape[1]);
            for (long i = 0; i < n; i++) {
                float x = shape.length < 2 ? (float) (0.5 + r.nextDouble()) : (float) (gaussian(r) * std);
                p.set(v, i, x);
            }
        }
    }

    private static double gaussian(SplittableRandom r) {
        double u = 1 - r.nextDouble(), w = r.nextDouble();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * w);
    }

    /**
     * Makes EOS win wherever the id {@code g} generates most often with {@code settings} would win with a positive
     * logit (EOS's output row becomes 1.3 times that id's), so that EOS shows up in the context.
     */
    static void makeEosLikely(Blt model, BltGeneration g, byte[] prompt, BltGeneration.Settings settings) {
        int[] ids = g.generate(prompt, settings, BltGeneration.Listener.NONE).ids();
        int[] counts = new int[model.vocab()];
        for (int id : ids) counts[id]++;
        int common = 0;
        for (int id = 0; id < counts.length; id++) if (counts[id] > counts[common]) common = id;
        ParameterLayout.View out = model.layout().view("local_decoder.output.weight");
        int dim = out.shape()[1];
        for (int d = 0; d < dim; d++) model.parameters().set(out, 2L * dim + d, 1.3f * model.parameters().get(out, (long) common * dim + d));
    }

    /** The value below which a fraction {@code q} of the entropies of {@code ids} lie (a threshold for tests). */
    static double entropyQuantile(EntropyModel m, int[] ids, double q) {
        float[] h = m.entropies(ids).clone();
        Arrays.sort(h);
        return h[(int) (q * (h.length - 1))];
    }
}

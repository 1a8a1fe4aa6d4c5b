package dev.patchwork.train;

import dev.patchwork.data.BltBatch;
import dev.patchwork.data.PackedSequence;
import dev.patchwork.model.Blt;
import dev.patchwork.model.BltConfig;
import dev.patchwork.tensor.ParameterBuffer;
import dev.patchwork.util.Json;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * A BLT batch trained on replicas gives the loss and the gradient of the whole batch on one model, up to float
 * reassociation, with rows of different real lengths (padding, so the replicas' own target counts differ) and their
 * own patch lengths.
 */
class BltReplicasTest {
    @Test
    void replicasGiveTheWholeBatchsLossAndGradient() throws Exception {
        BltConfig c = BltConfig.fromJson(Json.MAPPER.readTree("""
                {"dim_global": 32, "n_layers_global": 1, "n_heads_global": 2,
                 "dim_local_encoder": 16, "n_layers_local_encoder": 1, "n_heads_local_encoder": 2,
                 "dim_local_decoder": 16, "n_layers_local_decoder": 1, "n_heads_local_decoder": 2,
                 "cross_attn_k": 2, "cross_attn_nheads": 2, "cross_attn_all_layers_decoder": true,
                 "encoder_hash_byte_group_size": [3, 4], "encoder_hash_byte_group_nb_functions": 1,
                 "encoder_hash_byte_group_vocab": 64, "local_attention_window_len": 32, "max_seqlen": 16,
                 "max_encoder_seq_length": 64, "multiple_of": 16}"""), "test");
        Blt model = Blt.initialise(c);
        SplittableRandom r = new SplittableRandom(6);
        List<PackedSequence> rows = new ArrayList<>();
        for (int b = 0; b < 5; b++) {
            int patches = 4 + b; // rows of different lengths: the shorter ones are padded
            int[] lengths = new int[patches];
            lengths[0] = 1;
            int total = 1;
            for (int p = 1; p < patches; p++) total += lengths[p] = 1 + r.nextInt(4);
            int[] tokens = new int[total];
            tokens[0] = 1;
            for (int i = 1; i < total; i++) tokens[i] = 4 + r.nextInt(250);
            rows.add(PackedSequence.reference(tokens, lengths, c.maxEncoderSeqLength()));
        }
        BltBatch batch = BltBatch.of(rows);
        ParameterBuffer expected = ParameterBuffer.allocate(model.layout());
        model.forward(batch.x(), batch.rows(), batch.bytes(), batch.lengths());
        double expectedLoss = model.loss(batch.y(), null, true);
        model.backward(expected);
        double scale = 0;
        for (long i = 0; i < expected.floats(); i++) scale = Math.max(scale, Math.abs(expected.get(i)));

        for (int replicas : new int[] {1, 2, 3}) {
            BltReplicas team = new BltReplicas(model, replicas);
            ParameterBuffer grads = ParameterBuffer.allocate(model.layout());
            double loss = team.forwardLoss(batch);
            team.backward(grads);
            assertEquals(expectedLoss, loss, 1e-5 * Math.abs(expectedLoss), replicas + " replicas: summed loss");
            assertEquals(loss, team.loss(batch), 0, replicas + " replicas: evaluation loss");
            for (long i = 0; i < grads.floats(); i++)
                assertEquals(expected.get(i), grads.get(i), 1e-5 * scale, replicas + " replicas: gradient " + i);
        }
    }
}

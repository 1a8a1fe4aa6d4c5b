package dev.patchwork.generate;

import com.fasterxml.jackson.databind.JsonNode;
import dev.patchwork.model.Blt;
import dev.patchwork.model.BltCheckpoint;
import dev.patchwork.model.ModelConverter;
import dev.patchwork.model.ModelDirectory;
import dev.patchwork.patch.EntropyModel;
import dev.patchwork.patch.PatcherConfig;
import dev.patchwork.util.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/** The reference-tiny BLT converted to the Hugging Face layout generates the reference's greedy bytes. */
class HfLayoutGenerationTest {
    @Test
    void theHfCopyReproducesTheReferenceGreedyGeneration(@TempDir Path tmp) throws Exception {
        Path hf = tmp.resolve("hf");
        ModelConverter.convert(BltFixtures.referenceTiny(), hf, ModelConverter.Format.HF);
        Blt model = ModelDirectory.of(hf).loadBlt();
        EntropyModel entropy = EntropyModel.load(BltCheckpoint.entropyModel(hf).orElseThrow());
        JsonNode golden = Json.MAPPER.readTree(BltFixtures.referenceTiny().resolve("generation_golden.json").toFile());
        var patcher = PatcherConfig.entropy(golden.get("threshold").doubleValue()).build();
        for (String name : new String[]{"greedy_generation", "greedy_generation_utf8_prompt"}) {
            JsonNode c = golden.get(name);
            byte[] prompt = c.get("prompt").textValue().getBytes(StandardCharsets.UTF_8);
            int[] want = Json.MAPPER.convertValue(c.get("generated_ids"), int[].class);
            var settings = BltGeneration.Settings.reference(c.get("max_gen_len").intValue());
            for (BltGeneration g : new BltGeneration[]{new BltNoCacheGenerator(model, entropy, patcher), new BltGenerator(model, entropy, patcher)})
                assertArrayEquals(want, g.generate(prompt, settings, s -> true).ids(), g.getClass().getSimpleName() + " " + name);
        }
    }
}

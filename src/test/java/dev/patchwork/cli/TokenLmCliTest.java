package dev.patchwork.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.patchwork.data.ByteCorpus;
import dev.patchwork.data.CorpusSource;
import dev.patchwork.tokenizer.BpeTokenizer;
import dev.patchwork.train.StopLog;
import dev.patchwork.train.StopSignal;
import dev.patchwork.train.TokenLmTrainConfig;
import dev.patchwork.train.TokenLmTrainer;
import dev.patchwork.train.Trainer;
import dev.patchwork.util.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static dev.patchwork.cli.CliTest.run;
import static dev.patchwork.cli.CliTest.write;
import static org.junit.jupiter.api.Assertions.*;

/** The BPE baseline end to end: tokenizer train, train, resume, eval, generate. */
class TokenLmCliTest {
    static final String CONFIG = "{\"model\": {\"dim\": 16, \"n_layers\": 1, \"n_heads\": 2, \"multiple_of\": 16, \"max_seqlen\": 16},"
            + " \"tokenizer\": {\"vocab_size\": 300},"
            + " \"train\": {\"steps\": 6, \"batch_size\": 4, \"lr\": 0.02, \"warmup\": 1, \"eval_every\": 3, \"eval_batches\": 2,"
            + " \"checkpoint_every\": 3, \"log_every\": 1, \"eval_fraction\": 0.2}}";

    static Path data(Path tmp) throws Exception {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 120; i++) sb.append("hello world ").append(i % 7).append(", hello bytes and tokens. ");
        return write(tmp, "data.txt", sb.toString());
    }

    @Test
    void tokenizerTrainEvalGenerateAndResume(@TempDir Path tmp) throws Exception {
        Path data = data(tmp), cfg = write(tmp, "bpe.json", CONFIG), tok = tmp.resolve("tok.json");
        CliTest.Run t = run("tokenizer", "train", "--data", data.toString(), "--vocab", "300", "--out", tok.toString());
        assertEquals(0, t.code(), t.err());
        BpeTokenizer tokenizer = BpeTokenizer.load(tok);
        assertTrue(t.out().contains("vocab " + tokenizer.vocabSize()), t.out());
        assertTrue(t.out().contains("bytes/token"), t.out());

        Path full = tmp.resolve("full");
        CliTest.Run r = run("train", "--config", cfg.toString(), "--tokenizer", tok.toString(), "--data", data.toString(), "--out", full.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("step 6/6") && r.err().contains("training FLOPs per byte"), r.err());
        assertEquals(tokenizer.toJson(), Files.readString(full.resolve("checkpoint").resolve(BpeTokenizer.FILE_NAME)));

        // the same run stopped after step 3 (in process), then continued by the CLI: bit-identical weights
        Path split = tmp.resolve("split");
        StopSignal stop = StopSignal.manual();
        JsonNode root = Json.readTree(cfg);
        try (ByteCorpus corpus = ByteCorpus.open(CorpusSource.of(data), split.resolve("cache"), (d, b, f) -> {})) {
            Trainer.Result partial = TokenLmTrainer.start(TokenLmTrainConfig.fromJson(root, cfg.toString(), n -> n, tok), corpus,
                    data.toAbsolutePath().normalize().toString(), split, StopLog.afterStep(stop, 3), stop).run();
            assertTrue(partial.interrupted());
        }
        CliTest.Run resumed = run("train", "--resume", "--out", split.toString());
        assertEquals(0, resumed.code(), resumed.err());
        assertTrue(resumed.err().contains("resuming at step 3 of 6"), resumed.err());
        assertArrayEquals(Files.readAllBytes(full.resolve("checkpoint/model.safetensors")),
                Files.readAllBytes(split.resolve("checkpoint/model.safetensors")));

        CliTest.Run e = run("eval", "--model", full.toString(), "--data", data.toString(), "--json");
        assertEquals(0, e.code(), e.err());
        JsonNode j = Json.MAPPER.readTree(e.out());
        assertEquals("bpe_lm", j.get("model").asText());
        double bpb = j.get("bits_per_byte").asDouble();
        assertTrue(Double.isFinite(bpb) && bpb > 0 && bpb < 8, "bpb " + bpb);
        assertTrue(j.get("bytes_per_token").asDouble() > 1.5, e.out());
        assertTrue(j.get("flops_per_byte_train").asDouble() > 0, e.out());

        CliTest.Run g = run("generate", "--model", full.toString(), "--prompt", "hello", "--max-bytes", "20", "--no-stop-at-eos", "--seed", "3");
        assertEquals(0, g.code(), g.err());
        assertTrue(g.out().startsWith("hello"), g.out());
        assertTrue(g.err().contains("[20 bytes"), g.err());
        CliTest.assertOneLineError(run("serve", "--model", full.toString(), "--port", "0"), "holds a BPE token LM");
    }

    @Test
    void withoutATokenizerFileOneIsLearnedAndSavedInTheRun(@TempDir Path tmp) throws Exception {
        Path data = data(tmp), cfg = write(tmp, "bpe.json", CONFIG.replace("\"steps\": 6", "\"steps\": 2"));
        Path out = tmp.resolve("run");
        CliTest.Run r = run("train", "--config", cfg.toString(), "--data", data.toString(), "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        BpeTokenizer learned = BpeTokenizer.load(out.resolve(BpeTokenizer.FILE_NAME));
        assertTrue(learned.mergeCount() > 0 && learned.vocabSize() <= 300);
        assertEquals(learned.toJson(), Files.readString(out.resolve("checkpoint").resolve(BpeTokenizer.FILE_NAME)));
    }

    @Test
    void badInputGivesOneLineErrors(@TempDir Path tmp) throws Exception {
        Path data = data(tmp), tok = tmp.resolve("tok.json");
        assertEquals(0, run("tokenizer", "train", "--data", data.toString(), "--vocab", "300", "--out", tok.toString()).code());
        Path byteCfg = write(tmp, "byte.json", CliTest.TINY);
        CliTest.assertOneLineError(run("train", "--config", byteCfg.toString(), "--tokenizer", tok.toString(), "--data", data.toString(),
                "--out", tmp.resolve("a").toString()), "--tokenizer applies to a BPE baseline config");
        Path wrongVocab = write(tmp, "wrong.json", CONFIG.replace("\"max_seqlen\": 16}", "\"max_seqlen\": 16, \"vocab_size\": 260}"));
        CliTest.assertOneLineError(run("train", "--config", wrongVocab.toString(), "--tokenizer", tok.toString(), "--data", data.toString(),
                "--out", tmp.resolve("b").toString()), "does not match the tokenizer's");
        Path corrupt = write(tmp, "corrupt.json", "{\"format\": \"patchwork-bpe\", \"version\": 1, \"vocab_size\": 257, \"merges\": [[1, 999]]}");
        CliTest.assertOneLineError(run("train", "--config", write(tmp, "c.json", CONFIG).toString(), "--tokenizer", corrupt.toString(),
                "--data", data.toString(), "--out", tmp.resolve("c").toString()), "the file is corrupt");
        CliTest.assertOneLineError(run("tokenizer", "train", "--data", tmp.resolve("none.txt").toString(), "--out", tok.toString()), "data not found");
        Path empty = write(tmp, "empty.txt", "");
        Path emptyOut = tmp.resolve("empty-tok.json");
        CliTest.assertOneLineError(run("tokenizer", "train", "--data", empty.toString(), "--out", emptyOut.toString()), "holds no bytes");
        assertFalse(Files.exists(emptyOut), "no tokenizer is written for an empty corpus");
    }

}

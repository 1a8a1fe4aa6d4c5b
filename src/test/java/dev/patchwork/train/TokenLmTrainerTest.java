package dev.patchwork.train;

import dev.patchwork.data.ByteCorpus;
import dev.patchwork.data.ByteTokens;
import dev.patchwork.data.CorpusSource;
import dev.patchwork.data.CorpusSplit;
import dev.patchwork.eval.FlopAccounting;
import dev.patchwork.model.ByteLmConfig;
import dev.patchwork.tokenizer.BpeTokenizer;
import dev.patchwork.tokenizer.TokenizedSplit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class TokenLmTrainerTest {
    static ByteLmConfig model(int vocab) {
        return new ByteLmConfig(16, 2, null, 2, null, null, 16, 1e-5, 10000.0, null,
                "disabled", 16, 7L, vocab, false, null, "local_block_causal", null, 2, null, null, null);
    }

    static Path corpusDir(Path tmp) throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("docs"));
        for (int d = 0; d < 3; d++) {
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < 60; i++) sb.append("doc ").append(d).append(" line ").append(i).append(": the quick brown fox, café\n");
            Files.writeString(dir.resolve("d" + d + ".txt"), sb);
        }
        return dir;
    }

    static ByteCorpus open(Path data, Path tmp) {
        return ByteCorpus.open(CorpusSource.of(data), tmp.resolve("cache"), (d, b, f) -> {});
    }

    @Test
    void tokenStreamsCoverExactlyTheByteSplit(@TempDir Path tmp) throws Exception {
        try (ByteCorpus corpus = open(corpusDir(tmp), tmp)) {
            for (double fraction : new double[]{0.1, 0.5, 0.37}) {
                CorpusSplit split = corpus.split(fraction);
                BpeTokenizer tok = TokenizedSplit.trainTokenizer(corpus, split, 300);
                TokenizedSplit ts = TokenizedSplit.of(corpus, split, tok);
                assertArrayEquals(corpus.ids(0, (int) split.trainTokens()), byteIds(tok, ts.train()), "train, fraction " + fraction);
                assertArrayEquals(corpus.ids(split.trainEnd(), (int) split.evalTokens()), byteIds(tok, ts.heldOut()), "held out, fraction " + fraction);
                assertEquals(split.trainTokens(), ts.bytesOf(ts.train(), 0, ts.train().length));
                assertTrue(ts.train().length < split.trainTokens(), "BPE must compress");
            }
        }
    }

    /** Token-LM ids back to the byte LM's ids: BOS/EOS as they are, each token as its bytes + 4. */
    private static int[] byteIds(BpeTokenizer tok, int[] ids) {
        List<Integer> out = new ArrayList<>();
        for (int id : ids) {
            if (id < ByteTokens.OFFSET) out.add(id);
            else for (byte b : tok.tokenBytes(id - ByteTokens.OFFSET)) out.add(ByteTokens.id(b));
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }

    @Test
    void resumedRunIsBitIdenticalAndReportsPerByteLossAndFlops(@TempDir Path tmp) throws Exception {
        Path data = corpusDir(tmp);
        Path full = tmp.resolve("full"), split = tmp.resolve("split");
        PrintStream quiet = new PrintStream(OutputStream.nullOutputStream());
        try (ByteCorpus corpus = open(data, tmp)) {
            TrainSettings settings = ResumeTest.settings(100);
            BpeTokenizer tok = TokenizedSplit.trainTokenizer(corpus, corpus.split(settings.evalFraction()), 320);
            ByteLmConfig cfg = model(TokenizedSplit.lmVocab(tok));
            TokenLmTrainer a = TokenLmTrainer.start(cfg, tok, settings, corpus, data.toString(), full, quiet, StopSignal.manual());
            Trainer.Result ra = a.run();
            assertEquals(8, ra.steps());
            assertTrue(Double.isFinite(ra.evalLoss()) && ra.evalLoss() > 0);
            // the loss is per byte: a uniform guess over 324 ids would cost ln(324)/bytes-per-token nats per byte
            assertTrue(ra.evalLoss() < 1.5 * Math.log(324) / a.tokens().heldOutBytesPerToken(), "eval loss " + ra.evalLoss());
            double bpt = a.tokens().trainBytesPerToken();
            assertTrue(bpt > 1.5, "bytes per token " + bpt);
            assertEquals(FlopAccounting.train(FlopAccounting.bpePerByte(16, 2, 324, 16 * bpt, bpt)), a.trainingFlopsPerByte(), 1e-6);
            assertTrue(TokenLmTrainer.isTokenLmRun(full));
            assertEquals(tok.toJson(), Files.readString(full.resolve("checkpoint").resolve(BpeTokenizer.FILE_NAME)));

            StopSignal stop = StopSignal.manual();
            Trainer.Result b1 = TokenLmTrainer.start(cfg, tok, settings, corpus, data.toString(), split, StopLog.afterStep(stop, 3), stop).run();
            assertTrue(b1.interrupted());
            assertEquals(3, b1.steps());
            Trainer.Result b2 = TokenLmTrainer.resume(p -> open(Path.of(p), tmp), split, quiet, StopSignal.manual()).run();
            assertEquals(8, b2.steps());
            assertArrayEquals(Files.readAllBytes(full.resolve("checkpoint/model.safetensors")), Files.readAllBytes(split.resolve("checkpoint/model.safetensors")));
            assertArrayEquals(Files.readAllBytes(full.resolve("checkpoint/optimizer.safetensors")), Files.readAllBytes(split.resolve("checkpoint/optimizer.safetensors")));
            assertEquals(ra.evalLoss(), b2.evalLoss());
        }
    }
}

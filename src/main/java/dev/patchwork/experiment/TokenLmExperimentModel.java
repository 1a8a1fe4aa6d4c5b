package dev.patchwork.experiment;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.patchwork.data.ByteCorpus;
import dev.patchwork.data.CorpusSource;
import dev.patchwork.data.CorpusSplit;
import dev.patchwork.eval.FlopAccounting;
import dev.patchwork.eval.TokenLmEvaluator;
import dev.patchwork.io.Checkpoint;
import dev.patchwork.model.ByteLm;
import dev.patchwork.model.ByteLmCheckpoint;
import dev.patchwork.model.ByteLmConfig;
import dev.patchwork.model.ModelDirectory;
import dev.patchwork.tokenizer.BpeTokenizer;
import dev.patchwork.tokenizer.TokenizedSplit;
import dev.patchwork.train.ByteLmTrainer;
import dev.patchwork.train.TokenLmTrainer;
import dev.patchwork.train.TrainSettings;
import dev.patchwork.train.Trainer;
import dev.patchwork.util.PatchworkException;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;

/**
 * {@code "kind": "bpe_lm"}: the byte-level BPE baseline ({@link TokenLmTrainer}), the same transformer over tokens.
 * A step reads batch × seq_len tokens, so its bytes and its FLOPs per byte ({@link FlopAccounting#bpePerByte}) depend
 * on the bytes per token: the entry's {@code bytes_per_token} is the estimate the budget is checked with, and
 * {@link #prepare} replaces it by the value measured on the training split with the tokenizer learned there (with
 * {@code vocab} tokens, default 4096), before the steps are fixed.
 */
final class TokenLmExperimentModel implements ExperimentModel {
    static final int DEFAULT_VOCAB = 4096;
    static final double DEFAULT_BYTES_PER_TOKEN = 3.5;

    private final ModelSpec spec;
    private final TrainSettings settings;
    private final int vocab;
    private final int seqLen;
    private ByteLmConfig config;
    private BpeTokenizer tokenizer;
    private double bytesPerToken;

    TokenLmExperimentModel(ModelSpec spec, TrainSettings settings) {
        Experiment.requireOnly(spec, Set.of("vocab", "bytes_per_token"));
        this.spec = spec;
        this.settings = settings;
        this.vocab = spec.entry().path("vocab").asInt(DEFAULT_VOCAB);
        if (vocab <= BpeTokenizer.BYTES || vocab > 1 << 20)
            throw new PatchworkException(spec.what() + ": vocab must be in (256, 1048576], got " + vocab);
        this.bytesPerToken = spec.entry().path("bytes_per_token").asDouble(DEFAULT_BYTES_PER_TOKEN);
        if (!(bytesPerToken >= 1)) throw new PatchworkException(spec.what() + ": bytes_per_token must be >= 1, got " + bytesPerToken);
        this.config = modelConfig(vocab + 4);
        this.seqLen = settings.seqLenOr(config.maxSeqlen());
        if (seqLen > config.maxSeqlen())
            throw new PatchworkException(spec.what() + ": train.seq_len " + seqLen + " exceeds the model's max_seqlen " + config.maxSeqlen());
        ByteLmTrainer.checkFits(config, settings.batchSize(), seqLen);
    }

    private ByteLmConfig modelConfig(int lmVocab) {
        JsonNode m = spec.model().deepCopy();
        if (m instanceof ObjectNode o) o.put("vocab_size", lmVocab);
        return ByteLmConfig.fromJson(m, spec.what() + " (config)");
    }

    /** Learns the tokenizer on the training split (or reads the one learned before) and measures its bytes per token. */
    @Override
    public void prepare(ByteCorpus corpus, Path runDir, PrintStream log) throws IOException {
        Path file = runDir.resolve(BpeTokenizer.FILE_NAME);
        CorpusSplit split = corpus.split(settings.evalFraction());
        if (Files.isRegularFile(file)) {
            tokenizer = BpeTokenizer.load(file);
        } else {
            long t0 = System.nanoTime();
            tokenizer = TokenizedSplit.trainTokenizer(corpus, split, vocab);
            Files.createDirectories(runDir);
            tokenizer.save(file);
            log.printf("tokenizer: %d tokens learned on the training split in %.1fs%n", tokenizer.vocabSize(), (System.nanoTime() - t0) / 1e9);
        }
        config = modelConfig(TokenizedSplit.lmVocab(tokenizer));
        bytesPerToken = TokenizedSplit.of(corpus, split, tokenizer).trainBytesPerToken();
        log.printf("tokenizer: %.3f bytes per token on the training split%n", bytesPerToken);
    }

    @Override
    public String describe() {
        return String.format("BPE LM, vocab %d, dim %d, %d layers, context %d tokens (%.2f bytes/token)", vocab, config.dim(),
                config.nLayers(), seqLen, bytesPerToken);
    }

    @Override
    public long parameters() {
        return ByteLm.layoutOf(config).parameterCount();
    }

    private double inferenceFlopsPerByte(double bpt) {
        return FlopAccounting.bpePerByte(config.dim(), config.nLayers(), config.vocabSize(), seqLen * bpt, bpt);
    }

    @Override
    public double trainFlopsPerByte() {
        return FlopAccounting.train(inferenceFlopsPerByte(bytesPerToken));
    }

    @Override
    public double bytesPerStep() {
        return settings.batchSize() * seqLen * bytesPerToken;
    }

    @Override
    public Trainer.Result train(Training t) throws IOException {
        if (tokenizer == null) throw new IllegalStateException("prepare() must run before train()");
        TokenLmTrainer trainer = t.resumable() ? TokenLmTrainer.resume(saved -> t.corpus(), t.runDir(), t.log(), t.stop())
                : TokenLmTrainer.start(config, tokenizer, t.settings(), t.corpus(), t.dataSource(), t.runDir(), t.log(), t.stop());
        return trainer.run();
    }

    @Override
    public Evaluation evaluate(Path runDir, CorpusSource heldOut, boolean patchHistogram) {
        Path ckpt = ModelDirectory.resolve(runDir);
        ByteLm m = ByteLmCheckpoint.load(ckpt);
        BpeTokenizer tok = BpeTokenizer.load(ckpt.resolve(BpeTokenizer.FILE_NAME));
        TokenLmEvaluator.Result r = new TokenLmEvaluator(m, tok, settings.batchSize(), seqLen).evaluate(heldOut);
        return new Evaluation(r.bitsPerByte(), r.bytes(), inferenceFlopsPerByte(r.bytesPerToken()), null, null);
    }
}

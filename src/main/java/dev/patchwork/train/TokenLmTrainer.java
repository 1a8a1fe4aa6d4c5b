package dev.patchwork.train;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.patchwork.data.Batcher;
import dev.patchwork.data.ByteCorpus;
import dev.patchwork.data.CorpusSplit;
import dev.patchwork.eval.FlopAccounting;
import dev.patchwork.io.Checkpoint;
import dev.patchwork.model.ByteLm;
import dev.patchwork.model.ByteLmCheckpoint;
import dev.patchwork.model.ByteLmConfig;
import dev.patchwork.tokenizer.BpeTokenizer;
import dev.patchwork.tokenizer.TokenizedSplit;
import dev.patchwork.util.PatchworkException;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;

/**
 * The token-level baseline: a {@link ByteLm} over byte-level BPE tokens ({@link TokenizedSplit}: BOS/EOS keep their
 * ids, token {@code t} is id {@code t + 4}), trained with the shared {@link Trainer} loop. Training windows of
 * {@code seq_len} tokens are drawn from (seed, step) like the byte LM's; the held-out part is the byte LM's held-out
 * bytes, scored in consecutive windows.
 *
 * <p>Losses are reported per byte, not per token: {@link Loss#targets()} is the number of byte-stream positions the
 * predicted tokens cover, so the trainer's "bits/byte" and bytes/s are comparable with the byte LM's. The gradient is
 * still that of the mean loss per token.
 *
 * <p>The checkpoint is the byte LM's ({@code config.json} + {@code model.safetensors}) plus {@code tokenizer.json}.
 */
public final class TokenLmTrainer extends WindowTask<ByteLm> {
    public static final String KIND = "bpe_lm";

    private final ByteLmConfig config;
    private final BpeTokenizer tokenizer;
    private final TokenizedSplit tokens;

    private TokenLmTrainer(TrainSettings settings, Path out, ByteCorpus corpus, String dataSource, BpeTokenizer tokenizer,
                           PrintStream log, StopSignal stop, ByteLm model, JsonNode resumeState) {
        super(model, model.config().maxSeqlen(), settings, corpus, dataSource, out, log, stop, resumeState);
        this.config = model.config();
        this.tokenizer = tokenizer;
        this.tokens = TokenizedSplit.of(corpus, corpus.split(settings.evalFraction()), tokenizer);
    }

    /**
     * Starts a new run in {@code out}. Without a tokenizer file in {@code config}, one is learned on the training split
     * with the config's vocabulary size and saved as {@code out/tokenizer.json}.
     */
    public static TokenLmTrainer start(TokenLmTrainConfig config, ByteCorpus corpus, String dataSource, Path out,
                                       PrintStream log, StopSignal stop) throws IOException {
        Trainer.requireNoRun(out);
        TrainSettings settings = config.settings();
        BpeTokenizer tokenizer;
        if (config.tokenizerPath() != null) {
            tokenizer = BpeTokenizer.load(config.tokenizerPath());
        } else {
            long t0 = System.nanoTime();
            CorpusSplit split = corpus.split(settings.evalFraction());
            tokenizer = TokenizedSplit.trainTokenizer(corpus, split, config.tokenizerVocab());
            Files.createDirectories(out);
            tokenizer.save(out.resolve(BpeTokenizer.FILE_NAME));
            log.printf("tokenizer: learned %d tokens on the %,d training positions in %.1fs; saved in %s%n", tokenizer.vocabSize(),
                    split.trainTokens(), (System.nanoTime() - t0) / 1e9, out.resolve(BpeTokenizer.FILE_NAME));
        }
        return start(config.modelFor(tokenizer), tokenizer, settings, corpus, dataSource, out, log, stop);
    }

    /** Starts a new run in {@code out} with a given model config (its vocab_size must be 4 + the tokenizer's). */
    public static TokenLmTrainer start(ByteLmConfig config, BpeTokenizer tokenizer, TrainSettings settings, ByteCorpus corpus,
                                       String dataSource, Path out, PrintStream log, StopSignal stop) throws IOException {
        Trainer.requireNoRun(out);
        if (config.vocabSize() != TokenizedSplit.lmVocab(tokenizer))
            throw new PatchworkException("model vocab_size " + config.vocabSize() + " must be 4 special ids + the tokenizer's "
                    + tokenizer.vocabSize() + " tokens = " + TokenizedSplit.lmVocab(tokenizer));
        int seqLen = settings.seqLenOr(config.maxSeqlen());
        requireWithinContext(seqLen, config.maxSeqlen());
        ByteLmTrainer.checkFits(config, settings.batchSize(), seqLen);
        Files.createDirectories(out);
        return new TokenLmTrainer(settings, out, corpus, dataSource, tokenizer, log, stop, ByteLm.initialise(config), null);
    }

    /** Whether {@code out} holds a token-LM run (its trainer.json says kind {@value #KIND}). */
    public static boolean isTokenLmRun(Path out) {
        Path f = Trainer.checkpointDir(out).resolve(Checkpoint.TRAINER_FILE);
        return Files.isRegularFile(f) && KIND.equals(Trainer.readState(out).path("kind").asText());
    }

    /** Continues the run in {@code out} from its last checkpoint (model, tokenizer, optimizer, step). */
    public static TokenLmTrainer resume(ByteLmTrainer.ByteLmCorpusOpener corpusOpener, Path out, PrintStream log, StopSignal stop) throws IOException {
        JsonNode state = Trainer.readState(out);
        TrainSettings settings = Trainer.savedSettings(state, out);
        Path ckpt = Trainer.checkpointDir(out);
        ByteLm model = ByteLmCheckpoint.load(ckpt);
        BpeTokenizer tokenizer = BpeTokenizer.load(ckpt.resolve(BpeTokenizer.FILE_NAME));
        String dataSource = state.path("data").asText();
        return new TokenLmTrainer(settings, out, corpusOpener.open(dataSource), dataSource, tokenizer, log, stop, model, state);
    }

    public BpeTokenizer tokenizer() {
        return tokenizer;
    }

    public TokenizedSplit tokens() {
        return tokens;
    }

    /**
     * Training FLOPs per byte by the BLT paper's accounting for a BPE model ({@link FlopAccounting#bpePerByte}), with
     * the bytes per token measured on the training part and a context of {@code seq_len} tokens.
     */
    public double trainingFlopsPerByte() {
        double bpt = tokens.trainBytesPerToken();
        return FlopAccounting.train(FlopAccounting.bpePerByte(config.dim(), config.nLayers(), config.vocabSize(), seqLen * bpt, bpt));
    }

    @Override
    void checkData() {
        if (tokens.train().length < seqLen + 1) throw tooFewTrainingTokens(tokens.train().length);
        if (tokens.heldOut().length < seqLen + 1)
            throw new PatchworkException("the held-out split of " + corpus.description() + " has only " + tokens.heldOut().length
                    + " tokens, fewer than one window of seq_len+1 = " + (seqLen + 1) + ": raise eval_fraction or use a smaller seq_len");
    }

    // ---- TrainingTask ----------------------------------------------------------------------------------------------

    @Override
    public String kind() {
        return KIND;
    }

    @Override
    public String title() {
        return "BPE LM";
    }

    @Override
    public void describe(PrintStream log) {
        log.printf("model: %,d parameters (dim %d, %d layers, %d heads, ffn %d, vocab %d = 4 + %d BPE tokens); batch %d x %d tokens; "
                        + "corpus %s: %,d training / %,d held-out tokens, %.3f / %.3f bytes per token; training FLOPs per byte %.4g%n",
                model.layout().parameterCount(), config.dim(), config.nLayers(), config.heads(), config.ffnHidden(),
                config.vocabSize(), tokenizer.vocabSize(), settings.batchSize(), seqLen, corpus.description(),
                tokens.train().length, tokens.heldOut().length, tokens.trainBytesPerToken(), tokens.heldOutBytesPerToken(),
                trainingFlopsPerByte());
    }

    /** Random windows of the training stream, a pure function of (seed, step) as the byte LM's {@link Batcher}. */
    @Override
    public Loss forwardTraining(long step) {
        int B = settings.batchSize(), T = seqLen;
        int[] train = tokens.train();
        SplittableRandom random = new SplittableRandom(Batcher.stepSeed(settings.seed(), step));
        long bytes = 0;
        for (int b = 0; b < B; b++) {
            int start = (int) random.nextLong(train.length - T);
            System.arraycopy(train, start, x, b * T, T);
            System.arraycopy(train, start + 1, y, b * T, T);
            bytes += tokens.bytesOf(train, start + 1, start + 1 + T);
        }
        return new Loss(replicas.forwardLoss(x, y, B, T), bytes);
    }

    /** Summed loss over consecutive held-out windows ({@code eval_batches · batch_size} at most), per byte covered. */
    @Override
    public Loss evaluate() {
        int B = settings.batchSize(), T = seqLen;
        int[] held = tokens.heldOut();
        long windows = Math.min((held.length - 1) / T, (long) settings.evalBatches() * B);
        int[] ex = new int[B * T], ey = new int[B * T];
        double nats = 0;
        long bytes = 0;
        for (long w = 0; w < windows; w += B) {
            int n = (int) Math.min(B, windows - w);
            for (int b = 0; b < B; b++) {
                if (b < n) {
                    int start = (int) ((w + b) * T);
                    System.arraycopy(held, start, ex, b * T, T);
                    System.arraycopy(held, start + 1, ey, b * T, T);
                    bytes += tokens.bytesOf(held, start + 1, start + 1 + T);
                } else { // unused rows of the last batch: ignored targets
                    java.util.Arrays.fill(ex, b * T, (b + 1) * T, 0);
                    java.util.Arrays.fill(ey, b * T, (b + 1) * T, -1);
                }
            }
            nats += replicas.loss(ex, ey, B, T);
        }
        return new Loss(nats, bytes);
    }

    @Override
    public Checkpoint.Builder checkpoint() {
        return Checkpoint.builder(config.toJson(), model.parameters()).jsonFile(BpeTokenizer.FILE_NAME, tokenizer.toJson());
    }

    @Override
    public void saveState(ObjectNode state) {
        super.saveState(state);
        state.put("train_bytes_per_token", tokens.trainBytesPerToken());
        state.put("flops_per_byte_train", trainingFlopsPerByte());
    }
}

package dev.patchwork.tokenizer;

import dev.patchwork.data.ByteCorpus;
import dev.patchwork.data.ByteTokens;
import dev.patchwork.data.CorpusSplit;
import dev.patchwork.util.PatchworkException;

import java.util.Arrays;

/**
 * A prepared corpus as token-LM ids, cut at the same place as the byte LM's {@link CorpusSplit}: the training stream
 * covers exactly the byte-stream positions {@code [0, trainEnd)} and the held-out stream {@code [trainEnd, tokens)},
 * so both models are scored on the same held-out bytes. A document that straddles the cut is tokenized as two pieces
 * (no token crosses it).
 *
 * <p>Ids follow {@link ByteTokens}: BOS 1 and EOS 2 keep their ids and BPE token {@code t} is id {@code t + 4}, so a
 * byte token has the same id as in the byte LM and the model's vocabulary is {@code 4 + tokenizer vocabulary}. For
 * bits per byte, BOS and EOS cover one position each, as in the byte LM, whose targets include them.
 *
 * <p>Both streams are held in memory (4 bytes per token): meant for corpora up to a few hundred MB.
 */
public final class TokenizedSplit {
    private final BpeTokenizer tokenizer;
    private final int[] train, heldOut;
    private final long trainPositions, heldOutPositions;

    private TokenizedSplit(BpeTokenizer tokenizer, int[] train, int[] heldOut, long trainPositions, long heldOutPositions) {
        this.tokenizer = tokenizer;
        this.train = train;
        this.heldOut = heldOut;
        this.trainPositions = trainPositions;
        this.heldOutPositions = heldOutPositions;
    }

    /** The token-LM id of BPE token {@code token}. */
    public static int lmId(int token) {
        return token + ByteTokens.OFFSET;
    }

    /** The model vocabulary for a tokenizer: the four special ids, then its tokens. */
    public static int lmVocab(BpeTokenizer tokenizer) {
        return ByteTokens.OFFSET + tokenizer.vocabSize();
    }

    /** Byte-stream positions token-LM id {@code id} covers: 1 for BOS/EOS, the token's length otherwise. */
    public static int bytesOf(BpeTokenizer tokenizer, int id) {
        return id < ByteTokens.OFFSET ? 1 : tokenizer.tokenLength(id - ByteTokens.OFFSET);
    }

    /** Tokenizes both parts of {@code split}. */
    public static TokenizedSplit of(ByteCorpus corpus, CorpusSplit split, BpeTokenizer tokenizer) {
        IntBuffer train = new IntBuffer(), heldOut = new IntBuffer();
        forEachPiece(corpus, split, (bos, content, eos, isTrain) -> {
            IntBuffer dst = isTrain ? train : heldOut;
            if (bos) dst.add(ByteTokens.BOS);
            for (int t : tokenizer.encode(content)) dst.add(lmId(t));
            if (eos) dst.add(ByteTokens.EOS);
        });
        return new TokenizedSplit(tokenizer, train.toArray(), heldOut.toArray(), split.trainTokens(), split.evalTokens());
    }

    /** Learns a tokenizer on the training part of {@code split} only (the held-out bytes stay unseen). */
    public static BpeTokenizer trainTokenizer(ByteCorpus corpus, CorpusSplit split, int vocabSize) {
        BpeTrainer trainer = new BpeTrainer();
        forEachPiece(corpus, split, (bos, content, eos, isTrain) -> {
            if (isTrain) trainer.add(content);
        });
        return trainer.train(vocabSize);
    }

    private interface PieceSink {
        void piece(boolean bos, byte[] content, boolean eos, boolean train);
    }

    /** Every document, or each of its two parts if the cut falls inside it, in order. */
    private static void forEachPiece(ByteCorpus corpus, CorpusSplit split, PieceSink sink) {
        if (split.tokens() != corpus.tokens())
            throw new IllegalArgumentException("the split is for " + split.tokens() + " tokens but the corpus has " + corpus.tokens());
        long cut = split.trainEnd();
        for (long d = 0; d < corpus.documents(); d++) {
            long start = corpus.documentStart(d), end = corpus.documentStart(d + 1);
            if (cut > start && cut < end) {
                piece(corpus, start, cut, start, end, true, sink);
                piece(corpus, cut, end, start, end, false, sink);
            } else {
                piece(corpus, start, end, start, end, end <= cut, sink);
            }
        }
    }

    /** Positions {@code [from, to)} of the document at {@code [start, end)}: BOS at start, EOS at end - 1. */
    private static void piece(ByteCorpus corpus, long from, long to, long start, long end, boolean train, PieceSink sink) {
        boolean bos = from == start, eos = to == end;
        long contentFrom = bos ? from + 1 : from, contentTo = eos ? to - 1 : to;
        long n = Math.max(0, contentTo - contentFrom);
        if (n > Integer.MAX_VALUE - 16)
            throw new PatchworkException("a document of " + corpus.description() + " has " + n + " bytes; the BPE baseline tokenizes documents below 2 GB");
        int[] ids = corpus.ids(contentFrom, (int) n);
        byte[] content = new byte[ids.length];
        for (int i = 0; i < ids.length; i++) content[i] = (byte) (ids[i] - ByteTokens.OFFSET);
        sink.piece(bos, content, eos, train);
    }

    public BpeTokenizer tokenizer() {
        return tokenizer;
    }

    /** The training ids (do not modify). */
    public int[] train() {
        return train;
    }

    /** The held-out ids (do not modify). */
    public int[] heldOut() {
        return heldOut;
    }

    /** Byte-stream positions per id over the training part (BOS/EOS count one each): the FLOPs accounting's n_bpe. */
    public double trainBytesPerToken() {
        return train.length == 0 ? Double.NaN : (double) trainPositions / train.length;
    }

    /** Byte-stream positions per id over the held-out part. */
    public double heldOutBytesPerToken() {
        return heldOut.length == 0 ? Double.NaN : (double) heldOutPositions / heldOut.length;
    }

    /** Byte-stream positions the targets {@code ids[from, to)} cover (PAD counts nothing). */
    public int bytesOf(int[] ids, int from, int to) {
        int n = 0;
        for (int i = from; i < to; i++) if (ids[i] >= 0) n += bytesOf(tokenizer, ids[i]);
        return n;
    }

    private static final class IntBuffer {
        private int[] a = new int[1024];
        private int n;

        void add(int v) {
            if (n == a.length) {
                if (n == Integer.MAX_VALUE - 8) throw new PatchworkException("more than 2^31 tokens: the BPE baseline holds its token stream in one array");
                a = Arrays.copyOf(a, (int) Math.min(Integer.MAX_VALUE - 8L, 2L * n));
            }
            a[n++] = v;
        }

        int[] toArray() {
            return Arrays.copyOf(a, n);
        }
    }
}

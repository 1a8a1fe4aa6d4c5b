package dev.patchwork.cli;

import dev.patchwork.data.CorpusOptions;
import dev.patchwork.data.CorpusSource;
import dev.patchwork.tokenizer.BpeTokenizer;
import dev.patchwork.tokenizer.BpeTrainer;
import dev.patchwork.tokenizer.CorpusTokenStats;
import dev.patchwork.util.PatchworkException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code patchwork tokenizer}: byte-level BPE for the token-level baseline. */
@Command(name = "tokenizer", mixinStandardHelpOptions = true, description = "Byte-level BPE tokenizer for the token-level baseline.",
        subcommands = {TokenizerCommand.Train.class})
final class TokenizerCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    @Command(name = "train", mixinStandardHelpOptions = true, description = "Learn BPE merges over raw bytes from a corpus.",
            footer = {"", "Example:", "  patchwork tokenizer train --data input.txt --vocab 4096 --out tok.json"})
    static final class Train implements Callable<Integer> {
        @Option(names = "--data", required = true, paramLabel = "PATH", description = "Corpus: file, directory, .zip, .gz or .jsonl.")
        Path data;
        @Option(names = "--vocab", defaultValue = "4096", description = "Vocabulary size: 256 byte tokens + merges (default: ${DEFAULT-VALUE}).")
        int vocab;
        @Option(names = "--out", required = true, paramLabel = "FILE", description = "Tokenizer JSON to write.")
        Path out;
        @Option(names = "--zip-suffix", paramLabel = "SUFFIX", description = "Only entries ending with this (repeatable).")
        java.util.List<String> suffixes = new java.util.ArrayList<>();

        @Override
        public Integer call() throws Exception {
            if (!Files.exists(data)) throw new PatchworkException("data not found: " + data);
            CorpusOptions options = suffixes.isEmpty() ? CorpusOptions.ALL : CorpusOptions.including(suffixes.toArray(String[]::new));
            CorpusSource source = CorpusSource.of(data, options);
            long start = System.nanoTime();
            BpeTrainer trainer = new BpeTrainer();
            CorpusTokenStats.addAll(trainer, source);
            if (trainer.bytes() == 0)
                throw new PatchworkException(source.description() + " holds no bytes to learn merges from: give a non-empty corpus"
                        + (suffixes.isEmpty() ? "" : " (or check --zip-suffix)"));
            BpeTokenizer tok = trainer.train(vocab);
            double seconds = (System.nanoTime() - start) / 1e9;
            tok.save(out);
            CorpusTokenStats.Counts c = CorpusTokenStats.count(tok, source);
            System.out.printf("vocab %d (%d merges%s) from %,d bytes (%,d distinct words) in %.2fs; %.3f bytes/token on the data (%,d tokens); wrote %s%n",
                    tok.vocabSize(), tok.mergeCount(), tok.vocabSize() < vocab ? ", stopped early: no pair occurs twice" : "",
                    trainer.bytes(), trainer.wordTypes(), seconds, c.bytesPerToken(), c.tokens(), out);
            return 0;
        }
    }
}

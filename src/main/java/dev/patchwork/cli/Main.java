package dev.patchwork.cli;

import dev.patchwork.util.PatchworkException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintWriter;

/**
 * The {@code patchwork} command line. Errors the user can fix print one line and exit non-zero; unexpected errors
 * print one line too, with the stack trace only when {@code PATCHWORK_DEBUG=1}.
 */
@Command(name = "patchwork", mixinStandardHelpOptions = true, version = "patchwork 0.1.0",
        description = "Train, evaluate, sample and benchmark tokenizer-free (byte-level) language models.",
        subcommands = {InfoCommand.class, TrainCommand.class, EvalCommand.class, GenerateCommand.class, BenchCommand.class,
                DemoCommand.class, PatchCommand.class, ConvertCommand.class, ServeCommand.class, TokenizerCommand.class, ExperimentCommand.class, CommandLine.HelpCommand.class},
        footer = {"", "Examples:", "  patchwork demo", "  patchwork train --config configs/bytelm-tiny.json --data corpus.txt --out runs/tiny",
                "  patchwork eval --model runs/tiny --data heldout.txt --json",
                "  patchwork generate --model runs/tiny --prompt \"To be\" --temperature 0.8"})
public final class Main implements Runnable {
    @Option(names = "--threads", description = "Worker threads for the kernels (default: all cores).")
    Integer threads;

    @Option(names = "--scalar", description = "Run every kernel's plain scalar twin instead of the Vector API one.")
    boolean scalar;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    /** Applies the global switches before any kernel class is loaded (they are read once, at class initialisation). */
    void applyGlobalOptions() {
        if (threads != null) {
            if (threads < 1) throw new PatchworkException("--threads must be >= 1, got " + threads);
            System.setProperty("patchwork.threads", threads.toString());
        }
        if (scalar) System.setProperty("patchwork.scalar", "true");
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the CLI and returns the exit code (tests call this directly). */
    public static int run(String... args) {
        Main main = new Main();
        CommandLine cli = new CommandLine(main);
        cli.setExecutionStrategy(parseResult -> {
            try {
                main.applyGlobalOptions();
            } catch (PatchworkException e) { // before any command runs, so outside the execution exception handler
                return reportFailure(e, cli.getErr());
            }
            return new CommandLine.RunLast().execute(parseResult);
        });
        cli.setExecutionExceptionHandler((ex, commandLine, parseResult) -> reportFailure(ex, commandLine.getErr()));
        cli.setParameterExceptionHandler((ex, args1) -> {
            PrintWriter err = ex.getCommandLine().getErr();
            err.println("patchwork: " + ex.getMessage() + " (see '" + ex.getCommandLine().getCommandSpec().qualifiedName() + " --help')");
            err.flush();
            return 2;
        });
        return cli.execute(args);
    }

    static int reportFailure(Throwable ex, PrintWriter err) {
        Throwable t = ex;
        while (t.getCause() != null && !(t instanceof PatchworkException) && !(t instanceof IllegalArgumentException)) t = t.getCause();
        if (t instanceof PatchworkException || t instanceof IllegalArgumentException) {
            err.println("patchwork: error: " + t.getMessage());
        } else if (t instanceof OutOfMemoryError) {
            err.println("patchwork: error: out of memory (" + t.getMessage() + "); use a smaller batch/model, or give Java more memory with PATCHWORK_JAVA_OPTS=-Xmx8g");
        } else {
            err.println("patchwork: internal error: " + t + " (set PATCHWORK_DEBUG=1 for the stack trace)");
        }
        if ("1".equals(System.getenv("PATCHWORK_DEBUG"))) ex.printStackTrace(err);
        err.flush();
        return t instanceof OutOfMemoryError ? 3 : 1;
    }
}

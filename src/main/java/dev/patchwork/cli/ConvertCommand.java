package dev.patchwork.cli;

import dev.patchwork.model.ModelConverter;
import dev.patchwork.util.PatchworkException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Locale;

@Command(name = "convert", mixinStandardHelpOptions = true,
        description = {"Copy a model into another on-disk layout, every tensor bit for bit (dtypes are kept).",
                "Reads a Patchwork run or checkpoint, the reference's hub or consolidated layout, or the Hugging Face layout."},
        footer = {"", "Formats:",
                "  patchwork  a run directory: checkpoint/ in the hub layout",
                "  reference  config.json {\"args\"}, model.safetensors, train_args.json, entropy_model/",
                "  hf         Hugging Face transformers names, fused hash table, entropy model at model.patcher.* (BLT only)",
                "", "Example:", "  patchwork convert --from blt-1b --to blt-1b-hf --format hf"})
final class ConvertCommand implements Runnable {
    @Option(names = "--from", required = true, description = "Model directory to read.")
    Path from;

    @Option(names = "--to", required = true, description = "New directory to write (must not exist).")
    Path to;

    @Option(names = "--format", required = true, description = "patchwork, reference or hf.")
    String format;

    @Override
    public void run() {
        ModelConverter.Format f = switch (format.toLowerCase(Locale.ROOT)) {
            case "patchwork" -> ModelConverter.Format.PATCHWORK;
            case "reference" -> ModelConverter.Format.REFERENCE;
            case "hf" -> ModelConverter.Format.HF;
            default -> throw new PatchworkException("--format must be patchwork, reference or hf, got '" + format + "'");
        };
        ModelConverter.convert(from, to, f);
        System.out.println("wrote " + to + " (" + f.name().toLowerCase(Locale.ROOT) + " layout)");
    }
}

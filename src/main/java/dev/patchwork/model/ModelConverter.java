package dev.patchwork.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.patchwork.io.AtomicFiles;
import dev.patchwork.io.Checkpoint;
import dev.patchwork.io.CheckpointException;
import dev.patchwork.io.ConsolidatedCheckpoint;
import dev.patchwork.io.HfNames;
import dev.patchwork.io.HfTensorSource;
import dev.patchwork.io.PthFile;
import dev.patchwork.io.SafetensorsFile;
import dev.patchwork.io.TensorCopyWriter;
import dev.patchwork.io.TensorEntry;
import dev.patchwork.io.TensorSource;
import dev.patchwork.util.Json;
import dev.patchwork.util.PatchworkException;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Copies a model between on-disk layouts without changing a bit of any tensor: tensors keep their dtype and bytes,
 * only names, grouping (the HF fused hash table) and config files change. Sources: a Patchwork run or checkpoint,
 * the reference's hub or consolidated layout, the HF layout; see {@link Format} for the targets. The target is
 * written into a temporary directory and moved into place ({@link AtomicFiles#commitDirectory}).
 */
public final class ModelConverter {
    /** Target layouts. */
    public enum Format {
        /** A Patchwork run directory: {@code checkpoint/} in the hub layout. */
        PATCHWORK,
        /** The reference's hub layout: config.json {"args"}, model.safetensors, train_args.json, entropy_model/. */
        REFERENCE,
        /** The Hugging Face transformers layout ({@link HfLayout}); BLTs only. */
        HF
    }

    private ModelConverter() {}

    /** One model's reference arguments and reference-named tensors, open until closed. */
    private record Loaded(JsonNode args, TensorSource tensors, AutoCloseable file) implements AutoCloseable {
        @Override
        public void close() throws Exception {
            file.close();
        }
    }

    /** Converts the model in {@code from} into a new directory {@code to}; every problem is a one-line error. */
    public static void convert(Path from, Path to, Format format) {
        if (Files.exists(to))
            throw new PatchworkException(to + " already exists; convert into a new directory (or delete it first)");
        ModelDirectory dir = ModelDirectory.of(from);
        Path ckpt = dir.checkpoint();
        if (format == Format.HF && dir.kind() != ModelDirectory.Kind.BLT)
            throw new PatchworkException(ckpt + " holds a " + dir.kind().description()
                    + "; the Hugging Face layout is defined for BLTs only: use --format reference or patchwork");
        Optional<JsonNode> trainArgs = dir.trainArgs().map(Json::readTree);
        try (Loaded main = openMain(dir); Loaded entropy = dir.kind() == ModelDirectory.Kind.BLT ? openEntropy(dir) : null) {
            AtomicFiles.commitDirectory(to, tmp -> {
                switch (format) {
                    case REFERENCE -> writeReference(tmp, main, entropy, trainArgs);
                    case PATCHWORK -> writeReference(Files.createDirectory(tmp.resolve(ByteLmCheckpoint.RUN_CHECKPOINT)), main, entropy, trainArgs);
                    case HF -> writeHf(tmp, main, entropy, trainArgs);
                }
            });
        } catch (IOException e) {
            throw new PatchworkException("cannot write " + to + ": " + e.getMessage());
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new PatchworkException("cannot convert " + from + ": " + e.getMessage());
        }
    }

    private static Loaded openMain(ModelDirectory dir) {
        Path ckpt = dir.checkpoint();
        JsonNode args = unwrap(ModelDirectory.readConfig(ckpt));
        if (HfLayout.isHf(ckpt)) {
            SafetensorsFile f = Checkpoint.openModel(ckpt);
            return new Loaded(args, HfTensorSource.blt(f, dir.bltConfig().hashTables()), f);
        }
        return openReference(ckpt, args);
    }

    private static Loaded openEntropy(ModelDirectory dir) {
        Optional<Path> e = dir.entropyModelDir();
        if (e.isEmpty()) return null;
        Path ckpt = dir.checkpoint();
        if (HfLayout.isHf(ckpt)) {
            SafetensorsFile f = Checkpoint.openModel(ckpt);
            return new Loaded(unwrap(HfLayout.entropyHubConfig(ckpt).orElseThrow()), HfTensorSource.entropy(f), f);
        }
        return openReference(e.get(), unwrap(ModelDirectory.readConfig(e.get())));
    }

    /** Hub layout (model.safetensors) or consolidated layout (consolidated.pth). */
    private static Loaded openReference(Path ckpt, JsonNode args) {
        if (Files.isRegularFile(ckpt.resolve(Checkpoint.MODEL_FILE))) {
            SafetensorsFile f = Checkpoint.openModel(ckpt);
            return new Loaded(args, f, f);
        }
        PthFile f = ConsolidatedCheckpoint.read(ckpt).openWeights();
        return new Loaded(args, f, f);
    }

    private static JsonNode unwrap(JsonNode config) {
        return config.has("args") && config.size() == 1 ? config.get("args") : config;
    }

    private static void writeReference(Path dir, Loaded main, Loaded entropy, Optional<JsonNode> trainArgs) throws IOException {
        writeHubModel(dir, main);
        if (trainArgs.isPresent()) Files.writeString(dir.resolve(ModelDirectory.TRAIN_ARGS_FILE), Json.write(trainArgs.get()));
        if (entropy != null) writeHubModel(Files.createDirectory(dir.resolve(ModelDirectory.ENTROPY_MODEL_DIR)), entropy);
    }

    private static void writeHubModel(Path dir, Loaded model) throws IOException {
        ObjectNode config = JsonNodeFactory.instance.objectNode();
        config.set("args", model.args());
        Files.writeString(dir.resolve(Checkpoint.CONFIG_FILE), Json.write(config));
        TensorCopyWriter w = new TensorCopyWriter();
        for (TensorEntry t : model.tensors().tensors()) w.add(t.name(), t);
        w.write(dir.resolve(Checkpoint.MODEL_FILE));
    }

    private static void writeHf(Path dir, Loaded main, Loaded entropy, Optional<JsonNode> trainArgs) throws IOException {
        JsonNode patcherArgs = trainArgs.map(t -> t.path("data").path("patcher_args")).filter(JsonNode::isObject).orElse(null);
        ObjectNode config = HfLayout.config(main.args(), entropy == null ? null : entropy.args(), patcherArgs);
        Files.writeString(dir.resolve(Checkpoint.CONFIG_FILE), Json.write(config));
        if (trainArgs.isPresent()) Files.writeString(dir.resolve(ModelDirectory.TRAIN_ARGS_FILE), Json.write(trainArgs.get()));
        TensorCopyWriter w = new TensorCopyWriter();
        List<TensorEntry> tables = hashTables(main.tensors());
        boolean fusedWritten = false;
        for (TensorEntry t : main.tensors().tensors()) {
            if (HfNames.hashTableIndex(t.name()) >= 0) {
                if (!fusedWritten) addFused(w, main.tensors().path(), tables);
                fusedWritten = true;
            } else {
                w.add(HfNames.bltToHf(t.name()), t);
            }
        }
        if (entropy != null) for (TensorEntry t : entropy.tensors().tensors()) w.add(HfNames.entropyToHf(t.name()), t);
        w.write(dir.resolve(Checkpoint.MODEL_FILE));
    }

    /** The hash tables in index order; they must be 0..n-1, one dtype and one shape, to be stacked. */
    private static List<TensorEntry> hashTables(TensorSource src) {
        List<TensorEntry> tables = new ArrayList<>();
        for (int i = 0; src.contains(HfNames.hashTable(i)); i++) tables.add(src.tensor(HfNames.hashTable(i)));
        long present = src.tensors().stream().filter(t -> HfNames.hashTableIndex(t.name()) >= 0).count();
        if (present != tables.size())
            throw new CheckpointException(src.path(), "hash tables are not numbered 0.." + (present - 1) + " without gaps, so they cannot be fused");
        return tables;
    }

    private static void addFused(TensorCopyWriter w, Path file, List<TensorEntry> tables) {
        TensorEntry first = tables.getFirst();
        long[] shape = first.shape();
        List<MemorySegment> parts = new ArrayList<>();
        for (TensorEntry t : tables) {
            if (t.dtype() != first.dtype() || !java.util.Arrays.equals(t.shape(), shape))
                throw new CheckpointException(file, "hash table " + t + " differs from " + first + " in dtype or shape, so they cannot be fused");
            parts.add(t.data());
        }
        w.add(HfNames.FUSED_HASH_TABLE, first.dtype(), new long[]{shape[0] * tables.size(), shape[1]}, parts);
    }
}

package dev.patchwork.cli;

import com.fasterxml.jackson.databind.JsonNode;
import dev.patchwork.util.Json;
import dev.patchwork.tokenizer.BpeTokenizer;
import dev.patchwork.tokenizer.BpeTrainer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import static dev.patchwork.cli.CliTest.assertOneLineError;
import static dev.patchwork.cli.CliTest.run;
import static dev.patchwork.cli.CliTest.write;
import static org.junit.jupiter.api.Assertions.*;

/**
 * {@code patchwork patch} and {@code patchwork patch calibrate} in process, with the reference's tiny entropy model and
 * its golden patches (θ = 3.1328125).
 */
class PatchCommandTest {
    static final String THETA = "3.1328125";
    static Path model;
    static List<String> texts = new ArrayList<>();
    static List<int[]> goldenLengths = new ArrayList<>();

    @BeforeAll
    static void golden() throws Exception {
        model = Path.of(PatchCommandTest.class.getResource("/reference-tiny/entropy_model").toURI());
        JsonNode g = Json.MAPPER.readTree(PatchCommandTest.class.getResourceAsStream("/reference-tiny/patch_golden.json"));
        for (JsonNode d : g.get("documents")) {
            texts.add(d.get("text").asText());
            goldenLengths.add(Json.MAPPER.convertValue(d.get("patch_lengths"), int[].class));
        }
    }

    static JsonNode json(CliTest.Run r) throws Exception {
        assertEquals(0, r.code(), r.err());
        return Json.MAPPER.readTree(r.out());
    }

    static int[] ints(JsonNode array) {
        return Json.MAPPER.convertValue(array, int[].class);
    }

    @Test
    void jsonGivesTheReferencePatchesInBothConventions() throws Exception {
        for (int d = 0; d < texts.size(); d++) {
            String text = texts.get(d);
            int bytes = text.getBytes(StandardCharsets.UTF_8).length;
            // training convention: BOS + bytes + EOS, lengths sum to N
            JsonNode j = json(run("patch", "--entropy-model", model.toString(), "--threshold", THETA, "--text", text, "--add-eos", "--json"));
            assertArrayEquals(goldenLengths.get(d), ints(j.get("patch_lengths")), "document " + d);
            assertEquals(bytes + 2, j.get("entropies").size());
            assertEquals(bytes + 2, j.get("positions").asInt());
            assertEquals(bytes, j.get("bytes").asInt());
            assertEquals(goldenLengths.get(d).length, j.get("num_patches").asInt());
            assertEquals((double) (bytes + 2) / goldenLengths.get(d).length, j.get("mean_patch_size").asDouble(), 1e-12);
            assertEquals(3.1328125, j.get("threshold").asDouble());
            assertEquals("entropy", j.get("mode").asText());
            assertFalse(j.get("include_next_token").asBoolean());
            // inference convention: BOS + bytes and the virtual next byte, lengths sum to N+1: the same patches
            JsonNode k = json(run("patch", "--entropy-model", model.toString(), "--threshold", THETA, "--text", text, "--include-next-token", "--json"));
            assertArrayEquals(goldenLengths.get(d), ints(k.get("patch_lengths")), "document " + d + " (inference)");
            assertEquals(bytes + 1, k.get("entropies").size());
        }
    }

    @Test
    void textOutputMarksEveryBoundary() {
        String text = texts.get(0);
        CliTest.Run r = run("patch", "--entropy-model", model.toString(), "--threshold", THETA, "--text", text, "--add-eos", "--color", "never");
        assertEquals(0, r.code(), r.err());
        String[] lines = r.out().split("\n");
        String marked = lines[0];
        assertFalse(text.contains("|") || text.contains("\\") || text.contains("\n"), "the check below assumes a plain text");
        assertEquals("<bos>" + text + "<eos>", marked.replace("|", ""));
        assertEquals(goldenLengths.get(0).length - 1, marked.chars().filter(c -> c == '|').count());
        String[] pieces = marked.split("\\|", -1);
        for (int p = 1; p < pieces.length - 1; p++)
            assertEquals(goldenLengths.get(0)[p], pieces[p].getBytes(StandardCharsets.UTF_8).length, "patch " + p);
        assertTrue(r.out().contains(String.format("mean patch size %.4f", (text.length() + 2.0) / goldenLengths.get(0).length)), r.out());
        assertTrue(r.out().contains("patch sizes:"), r.out());
        assertFalse(r.out().contains("\u001b["), "no colours when not asked and not on a terminal");
        // the histogram's counts add up to the number of patches
        long counted = Arrays.stream(lines).filter(l -> l.matches("\\s+\\d+(-\\d+)?  #* \\d+"))
                .mapToLong(l -> Long.parseLong(l.substring(l.lastIndexOf(' ') + 1))).sum();
        assertEquals(goldenLengths.get(0).length, counted);
    }

    @Test
    void coloursAndEscapes() {
        CliTest.Run r = run("patch", "--mode", "byte", "--text", "a|b\\c\nd\u0007é", "--color", "always");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("\u001b[30;43m<bos>\u001b[0m"), r.out());
        CliTest.Run plain = run("patch", "--mode", "space", "--text", "a|b\\c\nd\u0007", "--color", "never");
        // a literal bar is escaped where bars are separators; newline, backslash and control bytes are escaped
        assertEquals("<bos>|a\\||b\\\\|c\\n|d\\x07", plain.out().split("\n")[0]);
        // a boundary inside a multi-byte character shows its bytes
        CliTest.Run cut = run("patch", "--mode", "static", "--patch-size", "3", "--text", "aé", "--color", "never");
        assertEquals("<bos>a\\xc3|\\xa9", cut.out().split("\n")[0]);
        CliTest.Run whole = run("patch", "--mode", "static", "--patch-size", "2", "--text", "aé", "--color", "never");
        assertEquals("<bos>a|é", whole.out().split("\n")[0]);
    }

    @Test
    void thresholdComesFromTheReferenceTrainArgs(@TempDir Path tmp) throws Exception {
        // reference hub layout: the BLT directory holds train_args.json and the entropy model in entropy_model/
        Path blt = tmp.resolve("blt");
        Path lm = Files.createDirectories(blt.resolve("entropy_model"));
        for (String f : new String[]{"config.json", "model.safetensors"}) Files.copy(model.resolve(f), lm.resolve(f));
        write(blt, "config.json", "{\"args\": {\"dim_global\": 80}}");
        write(blt, "train_args.json", "{\"data\": {\"patcher_args\": {\"patching_mode\": \"entropy\", \"threshold\": " + THETA
                + ", \"threshold_add\": null, \"patching_device\": \"cuda\"}}, \"model\": {}}");
        for (Path dir : new Path[]{blt, lm}) {
            JsonNode j = json(run("patch", "--entropy-model", dir.toString(), "--text", texts.get(0), "--add-eos", "--json"));
            assertEquals(3.1328125, j.get("threshold").asDouble(), dir.toString());
            assertArrayEquals(goldenLengths.get(0), ints(j.get("patch_lengths")));
        }
        CliTest.Run text = run("patch", "--entropy-model", blt.toString(), "--text", "abc");
        assertTrue(text.out().contains("(threshold from " + blt.resolve("train_args.json") + ")"), text.out());
        // --threshold wins over train_args.json
        JsonNode j = json(run("patch", "--entropy-model", blt.toString(), "--threshold", "100", "--text", "abc", "--json"));
        assertArrayEquals(new int[]{1, 3}, ints(j.get("patch_lengths")));
    }

    @Test
    void plotWritesAPng(@TempDir Path tmp) throws Exception {
        Path png = tmp.resolve("entropy.png");
        CliTest.Run r = run("patch", "--entropy-model", model.toString(), "--threshold", THETA, "--text", texts.get(0), "--plot", png.toString());
        assertEquals(0, r.code(), r.err());
        byte[] head = Arrays.copyOf(Files.readAllBytes(png), 8);
        assertArrayEquals(new byte[]{(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'}, head);
        assertTrue(Files.size(png) > 5000);
        try (Stream<Path> files = Files.list(tmp)) {
            assertEquals(List.of(png), files.toList(), "no temporary file left");
        }
    }

    @Test
    void patchesPrecomputedEntropiesWithoutAModel(@TempDir Path tmp) throws Exception {
        // the Daenerys fixture's entropies, as a plain array
        JsonNode fixture = Json.MAPPER.readTree(getClass().getResourceAsStream("/blt/tokens_with_entropies.json"));
        StringBuilder array = new StringBuilder("[");
        for (int t = 0; t < 81; t++) array.append(t == 0 ? "" : ",").append(fixture.get("entropies").get(Integer.toString(t)).asText());
        Path h = write(tmp, "h.json", array.append("]").toString());
        int[] expected = {1, 1, 1, 1, 1, 15, 3, 3, 1, 1, 3, 12, 1, 1, 1, 1, 1, 5, 5, 1, 2, 1, 19};
        JsonNode j = json(run("patch", "--entropies", h.toString(), "--threshold", "1.335442066192627", "--json"));
        assertArrayEquals(expected, ints(j.get("patch_lengths")));
        assertTrue(j.get("bytes").isNull());
        assertFalse(j.has("patches"));
        // with the text, the patches are shown too
        String sentence = "Daenerys Targaryen is in Game of Thrones, a fantasy epic by George R.R. Martin.";
        JsonNode k = json(run("patch", "--entropies", h.toString(), "--threshold", "1.335442066192627", "--text", sentence, "--add-eos", "--json"));
        assertArrayEquals(expected, ints(k.get("patch_lengths")));
        assertEquals("<bos>", k.get("patches").get(0).asText());
        assertEquals("D", k.get("patches").get(1).asText());
        assertEquals("erys Targaryen ", k.get("patches").get(5).asText());
        assertEquals("eorge R.R. Martin.<eos>", k.get("patches").get(22).asText());
        // the --json output itself is accepted as an entropies file
        Path again = write(tmp, "again.json", k.toString());
        JsonNode l = json(run("patch", "--entropies", again.toString(), "--threshold", "1.335442066192627", "--json"));
        assertArrayEquals(expected, ints(l.get("patch_lengths")));
        // plain output without a text: the lengths
        CliTest.Run plain = run("patch", "--entropies", h.toString(), "--threshold", "1.335442066192627");
        assertTrue(plain.out().startsWith("patch lengths: " + Arrays.toString(expected)), plain.out());
    }

    @Test
    void otherModes() throws Exception {
        String text = "one two  three";
        assertArrayEquals(new int[]{1, 4, 4, 6}, ints(json(run("patch", "--mode", "space", "--text", text, "--json")).get("patch_lengths")));
        assertArrayEquals(new int[]{4, 4, 4, 3}, ints(json(run("patch", "--mode", "static", "--patch-size", "4", "--text", text, "--json")).get("patch_lengths")));
        assertEquals(16, json(run("patch", "--mode", "byte", "--text", text, "--include-next-token", "--json")).get("num_patches").asInt());
        int[] capped = ints(json(run("patch", "--mode", "space", "--max-patch-length", "3", "--text", text, "--json")).get("patch_lengths"));
        assertArrayEquals(new int[]{1, 3, 1, 3, 1, 3, 3}, capped);
        JsonNode topk = json(run("patch", "--mode", "topk", "--patch-size", "3", "--entropy-model", model.toString(), "--text", texts.get(0), "--json"));
        assertEquals((texts.get(0).length() + 1) / 3 - 2 + 2, topk.get("num_patches").asInt(), "k = ⌊N/3⌋ − 2 chosen entropies plus the 2 forced starts");
        JsonNode rel = json(run("patch", "--monotonicity", "--threshold", "0.5", "--entropy-model", model.toString(), "--text", texts.get(0), "--json"));
        assertTrue(rel.get("rule").asText().contains("relative"));
    }

    /** BPE-delimiter patching from a tokenizer file: one patch per token (its bytes and the next delimiter). */
    @Test
    void bpeModeCutsAtTheTokenizersTokens(@TempDir Path tmp) throws Exception {
        String text = "the cat the cat the hat";
        BpeTokenizer tok = BpeTrainer.train(text.repeat(20).getBytes(StandardCharsets.UTF_8), 300);
        Path file = tmp.resolve("tok.json");
        tok.save(file);
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        int[] tokens = tok.encode(bytes);
        assertTrue(tokens.length < bytes.length, "the tokenizer merged something");
        JsonNode r = json(run("patch", "--mode", "bpe", "--tokenizer", file.toString(), "--text", text, "--json"));
        int[] lengths = ints(r.get("patch_lengths"));
        // a patch starts after each delimiter, so the delimiter ends its patch: BOS, the first delimiter, then each
        // token's bytes with the next token's delimiter, the last token alone
        int[] expected = new int[tokens.length + 2];
        expected[0] = 1;
        expected[1] = 1;
        for (int i = 0; i < tokens.length; i++) expected[i + 2] = tok.tokenLength(tokens[i]) + (i < tokens.length - 1 ? 1 : 0);
        assertArrayEquals(expected, lengths);
        assertOneLineError(run("patch", "--mode", "bpe", "--text", text), "give --tokenizer FILE");
        assertOneLineError(run("patch", "--mode", "space", "--tokenizer", file.toString(), "--text", text), "--tokenizer applies to --mode bpe");
    }

    @Test
    void badInputGivesOneLineAndNonZeroExit(@TempDir Path tmp) throws Exception {
        Path badJson = write(tmp, "bad.json", "[1.0, 2.0");
        Path nan = write(tmp, "nan.json", "[0.5, NaN, 1.0]");
        Path word = write(tmp, "word.json", "[0.5, \"high\", 1.0]");
        Path object = write(tmp, "object.json", "{\"h\": [1]}");
        Path ok = write(tmp, "ok.json", "[0.5, 2.0, 1.0]");
        Path empty = Files.createDirectories(tmp.resolve("empty"));
        Path notLm = Files.createDirectories(tmp.resolve("blt"));
        write(notLm, "config.json", "{\"args\": {\"dim_global\": 80, \"n_layers_global\": 2}}");
        Path garbage = Files.createDirectories(tmp.resolve("garbage"));
        write(garbage, "config.json", "not json at all");
        assertOneLineError(run("patch", "--entropies", badJson.toString(), "--threshold", "1"), "is not valid JSON");
        assertOneLineError(run("patch", "--entropies", nan.toString(), "--threshold", "1"), "entropies[1] is NaN");
        assertOneLineError(run("patch", "--entropies", word.toString(), "--threshold", "1"), "entropies[1] is not a number");
        assertOneLineError(run("patch", "--entropies", object.toString(), "--threshold", "1"), "expected a JSON array of entropies");
        assertOneLineError(run("patch", "--entropies", tmp.resolve("missing.json").toString(), "--threshold", "1"), "entropies file not found");
        assertOneLineError(run("patch", "--entropies", ok.toString(), "--threshold", "-1"), "--threshold must be >= 0");
        assertOneLineError(run("patch", "--entropies", ok.toString()), "missing threshold");
        Path plain = Files.createDirectories(tmp.resolve("plain")); // no train_args.json here nor in its parent
        for (String f : new String[]{"config.json", "model.safetensors"}) Files.copy(model.resolve(f), plain.resolve(f));
        assertOneLineError(run("patch", "--entropy-model", plain.toString(), "--text", "abc"), "missing threshold");
        Path odd = Files.createDirectories(tmp.resolve("odd"));
        for (String f : new String[]{"config.json", "model.safetensors"}) Files.copy(model.resolve(f), odd.resolve(f));
        write(odd, "train_args.json", "{\"data\": {\"patcher_args\": {\"threshold\": -2}}}");
        assertOneLineError(run("patch", "--entropy-model", odd.toString(), "--text", "abc"), "cannot take the threshold from");
        write(odd, "train_args.json", "{\"data\": {\"patcher_args\": {\"patching_mode\": \"byte\"}}}");
        assertOneLineError(run("patch", "--entropy-model", odd.toString(), "--text", "abc"), "missing threshold");
        assertOneLineError(run("patch", "--entropies", ok.toString(), "--threshold", "1", "--text", "abcd"), "3 entropies but the text gives 5 ids");
        assertOneLineError(run("patch", "--entropy-model", empty.toString(), "--threshold", "1", "--text", "abc"), "is not a byte LM");
        assertOneLineError(run("patch", "--entropy-model", notLm.toString(), "--threshold", "1", "--text", "abc"), "is not a byte LM");
        assertOneLineError(run("patch", "--entropy-model", garbage.toString(), "--threshold", "1", "--text", "abc"), "is not a byte LM");
        assertOneLineError(run("patch", "--entropy-model", tmp.resolve("nowhere").toString(), "--threshold", "1", "--text", "abc"), "is not a directory");
        assertOneLineError(run("patch", "--mode", "bogus", "--text", "abc"), "--mode must be");
        assertOneLineError(run("patch", "--mode", "space", "--entropies", ok.toString()), "reads the bytes");
        assertOneLineError(run("patch", "--text", "abc", "--threshold", "1"), "needs entropies");
        assertOneLineError(run("patch", "--mode", "space", "--text", "abc", "--plot", tmp.resolve("x.png").toString()), "--plot needs entropies");
        assertOneLineError(run("patch", "--mode", "static", "--patch-size", "2.5", "--text", "abc"), "whole patch_size");
        assertOneLineError(run("patch", "--mode", "space", "--threshold", "1", "--text", "abc"), "apply to entropy patching");
        assertOneLineError(run("patch", "--text", "a", "--file", ok.toString(), "--mode", "byte"), "not both");
        assertOneLineError(run("patch", "--file", tmp.resolve("none.txt").toString(), "--mode", "byte"), "file not found");
        assertOneLineError(run("patch", "--mode", "byte"), "nothing to patch");
        assertOneLineError(run("patch", "calibrate", "--entropy-model", model.toString(), "--data", tmp.resolve("none").toString()), "data not found");
        assertOneLineError(run("patch", "calibrate", "--entropy-model", empty.toString(), "--data", ok.toString()), "is not a byte LM");
        assertOneLineError(run("patch", "calibrate", "--entropy-model", model.toString(), "--data", ok.toString(), "--target-size", "-2"), "--target-size");
    }

    @Test
    void calibrateReachesTheTarget(@TempDir Path tmp) throws Exception {
        Path corpus = Files.createDirectories(tmp.resolve("corpus"));
        write(corpus, "a.txt", texts.get(0));
        write(corpus, "b.txt", texts.get(1));
        JsonNode j = json(run("patch", "calibrate", "--entropy-model", model.toString(), "--data", corpus.toString(), "--target-size", "4", "--json"));
        assertTrue(j.get("within_tolerance").asBoolean(), j.toString());
        assertEquals(4.0, j.get("mean_patch_size").asDouble(), 0.04);
        assertEquals(2, j.get("documents").asInt());
        int bytes = texts.get(0).getBytes(StandardCharsets.UTF_8).length + texts.get(1).getBytes(StandardCharsets.UTF_8).length;
        assertEquals(bytes, j.get("bytes").asInt());
        assertEquals(bytes + 4, j.get("positions").asInt(), "BOS and EOS around each document");
        // the threshold it reports gives that mean when the documents are patched one by one
        String theta = j.get("threshold").asText();
        long patches = 0;
        for (String text : texts)
            patches += json(run("patch", "--entropy-model", model.toString(), "--threshold", theta, "--text", text, "--add-eos", "--json")).get("num_patches").asLong();
        assertEquals(j.get("patches").asLong(), patches);
        // the byte budget cuts the corpus; the text output names θ
        CliTest.Run r = run("patch", "calibrate", "--entropy-model", model.toString(), "--data", corpus.toString(), "--target-size", "3", "--max-bytes", "100");
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().startsWith("threshold "), r.out());
        assertTrue(r.out().contains("100 bytes in 1 documents"), r.out());
    }

    @Test
    void helpListsTheCommand() {
        CliTest.Run r = run("patch", "--help");
        assertEquals(0, r.code());
        assertTrue(r.out().contains("calibrate") && r.out().contains("--entropy-model"), r.out());
        assertTrue(run("patch", "calibrate", "--help").out().contains("--target-size"));
        assertTrue(run("--help").out().contains("patch"));
    }
}

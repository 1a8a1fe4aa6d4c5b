package dev.patchwork.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** {@code patchwork experiment} on the command line: bad configs give one-line errors before any work. */
class ExperimentCliTest {
    @Test
    void badConfigsGiveOneLineErrors(@TempDir Path tmp) throws Exception {
        Path data = CliTest.write(tmp, "data.txt", "some text ".repeat(50));
        Path out = tmp.resolve("exp");
        Path unknown = CliTest.write(tmp, "m.json", "{\"train_flops\": 1e9, \"models\": [{\"name\": \"m\", \"kind\": \"mamba\","
                + " \"config\": {\"dim\": 16, \"n_layers\": 1, \"n_heads\": 2, \"multiple_of\": 16, \"max_seqlen\": 16}}]}");
        CliTest.assertOneLineError(CliTest.run("experiment", "--config", unknown.toString(), "--data", data.toString(), "--out", out.toString()),
                "unknown model kind 'mamba'");
        Path megabyte = CliTest.write(tmp, "mb.json", "{\"train_flops\": 1e9, \"models\": [{\"name\": \"m\", \"kind\": \"megabyte\","
                + " \"config\": {\"dim\": 16, \"n_layers\": 1, \"n_heads\": 2, \"multiple_of\": 16, \"max_seqlen\": 16}}]}");
        CliTest.assertOneLineError(CliTest.run("experiment", "--config", megabyte.toString(), "--data", data.toString(), "--out", out.toString()),
                "unknown field 'dim'");
        Path tiny = CliTest.write(tmp, "t.json", "{\"train_flops\": 10, \"models\": [{\"name\": \"m\", \"kind\": \"byte_lm\","
                + " \"config\": {\"dim\": 16, \"n_layers\": 1, \"n_heads\": 2, \"multiple_of\": 16, \"max_seqlen\": 16}}]}");
        CliTest.assertOneLineError(CliTest.run("experiment", "--config", tiny.toString(), "--data", data.toString(), "--out", out.toString()),
                "smaller than one training step");
        Path enough = CliTest.write(tmp, "e.json", "{\"train_flops\": 1e12, \"models\": [{\"name\": \"m\", \"kind\": \"byte_lm\","
                + " \"config\": {\"dim\": 16, \"n_layers\": 1, \"n_heads\": 2, \"multiple_of\": 16, \"max_seqlen\": 16}}]}");
        CliTest.assertOneLineError(CliTest.run("experiment", "--config", enough.toString(), "--train-flops", "10", "--data", data.toString(),
                "--out", out.toString()), "the budget train_flops = 10.0 is smaller than one training step");
        CliTest.assertOneLineError(CliTest.run("experiment", "--config", tmp.resolve("none.json").toString(), "--data", data.toString(),
                "--out", out.toString()), "experiment config not found");
        assertFalse(Files.exists(out), "nothing is written for a refused config");
        CliTest.Run help = CliTest.run("experiment", "--help");
        assertEquals(0, help.code());
        assertTrue(help.out().contains("experiments/shakespeare.json"), help.out());
    }
}

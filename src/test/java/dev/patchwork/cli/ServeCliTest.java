package dev.patchwork.cli;

import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.*;

/** {@code patchwork serve}'s flags and start-up errors (the server itself: dev.patchwork.serve tests). */
class ServeCliTest {
    static String tinyBlt() throws Exception {
        return Path.of(ServeCliTest.class.getResource("/reference-tiny/config.json").toURI()).getParent().toString();
    }

    @Test
    void helpShowsTheRoutes() {
        CliTest.Run r = CliTest.run("serve", "--help");
        assertEquals(0, r.code());
        assertTrue(r.out().contains("/v1/completions") && r.out().contains("127.0.0.1"), r.out());
    }

    @Test
    void badPortAndBusyPortAreOneLineErrors() throws Exception {
        CliTest.Run r = CliTest.run("serve", "--model", tinyBlt(), "--port", "70000");
        assertEquals(1, r.code());
        assertTrue(r.err().contains("--port must be in 0..65535"), r.err());
        try (ServerSocket taken = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            CliTest.Run busy = CliTest.run("serve", "--model", tinyBlt(), "--port", String.valueOf(taken.getLocalPort()));
            assertEquals(1, busy.code());
            assertTrue(busy.err().contains("cannot listen on 127.0.0.1:" + taken.getLocalPort()), busy.err());
        }
    }
}

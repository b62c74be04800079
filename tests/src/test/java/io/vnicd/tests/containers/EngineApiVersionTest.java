package io.vnicd.tests.containers;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EngineApiVersionTest {
    @TempDir
    Path dir;

    @Test
    void shouldReadTheApiVersionAnEngineOffers() throws Exception {
        Path socket = dir.resolve("docker.sock");
        try (ServerSocketChannel engine = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            engine.bind(UnixDomainSocketAddress.of(socket));
            Thread.ofVirtual().start(() -> {
                try (SocketChannel client = engine.accept()) {
                    client.read(ByteBuffer.allocate(1024));
                    client.write(ByteBuffer.wrap(("HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n"
                            + "{\"Version\":\"20.10.24+dfsg1\",\"ApiVersion\":\"1.41\",\"MinAPIVersion\":\"1.12\"}")
                            .getBytes(StandardCharsets.US_ASCII)));
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            Optional<int[]> version = EngineApiVersion.ask(socket);
            assertTrue(version.isPresent());
            assertArrayEquals(new int[] {1, 41}, version.get());
        }
    }

    @Test
    void shouldLeaveTheVersionAloneWhenNoEngineListens() {
        assertFalse(EngineApiVersion.ask(dir.resolve("absent.sock")).isPresent());
    }

    @Test
    void shouldPinOnlyEnginesOlderThanTestcontainersDefault() {
        assertTrue(EngineApiVersion.older(new int[] {1, 41}, EngineApiVersion.TESTCONTAINERS_DEFAULT));
        assertFalse(EngineApiVersion.older(new int[] {1, 44}, EngineApiVersion.TESTCONTAINERS_DEFAULT));
        assertFalse(EngineApiVersion.older(new int[] {1, 52}, EngineApiVersion.TESTCONTAINERS_DEFAULT));
    }
}

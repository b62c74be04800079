package io.vnicd.vmm.daemon;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** The control socket: who may ask, how long a request may be, how many may ask at once and for how long. */
class ControlSocketLimitsTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;
    private Path peerDir;

    @AfterEach
    void removePeerDir() throws IOException {
        if (peerDir != null) {
            try (var files = Files.walk(peerDir)) {
                for (Path p : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    private Vnicd start(Path where, String controlGroup, ControlServer.Limits limits) throws Exception {
        VnicdConfig c = new VnicdConfig(where.resolve("control.sock").toString(), null, List.of(new VnicdConfig.PfConfig("pf0",
                List.of(new VnicdConfig.VfConfig("vf0", where.resolve("vf0.sock").toString(), "server", 1, null)))),
                null, null, controlGroup);
        return new Vnicd(c.validate(), limits).start();
    }

    private static SocketChannel open(Path socket) throws IOException {
        SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        ch.connect(UnixDomainSocketAddress.of(socket));
        return ch;
    }

    /** The next line the daemon sends, or null at end of stream; fails after 30 s. */
    private static String readLine(SocketChannel ch) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(Channels.newInputStream(ch), StandardCharsets.UTF_8));
        return CompletableFuture.supplyAsync(() -> {
            try {
                return in.readLine();
            } catch (IOException e) {
                return "(read failed: " + e + ")";
            }
        }).get(30, TimeUnit.SECONDS);
    }

    private static JsonNode status(Path control) throws IOException {
        return JSON.readTree(ControlClient.request(control, "{\"command\":\"status\"}"));
    }

    @Test
    void shouldTakeALargeRequestButRefuseALineOverTheLimitAndStayFine() throws Exception {
        Path control = dir.resolve("control.sock");
        try (Vnicd vnicd = start(dir, null, ControlServer.Limits.DEFAULT)) {
            char[] pad = new char[900 * 1024];
            Arrays.fill(pad, 'x');
            JsonNode big = JSON.readTree(ControlClient.request(control, "{\"command\":\"status\",\"pad\":\"" + new String(pad) + "\"}"));
            assertTrue(big.path("ok").asBoolean(), "900 KiB is within the 1 MiB limit");

            try (SocketChannel ch = open(control)) {
                byte[] tooLong = new byte[(1 << 20) + 2];
                Arrays.fill(tooLong, (byte) 'x');
                CompletableFuture<Void> writer = CompletableFuture.runAsync(() -> {
                    try {
                        ch.write(ByteBuffer.wrap(tooLong));
                    } catch (IOException closedOnUs) {
                        // the daemon stops reading once the line is over the limit
                    }
                });
                JsonNode answer = JSON.readTree(readLine(ch));
                assertFalse(answer.path("ok").asBoolean());
                assertEquals("request line longer than 1048576 bytes: closing the connection", answer.path("error").asText());
                writer.get(30, TimeUnit.SECONDS);
            }
            assertTrue(status(control).path("ok").asBoolean(), "the daemon still answers");
            assertEquals(1, vnicd.physicalFunctions().size());
        }
    }

    @Test
    void shouldRefuseConnectionsOverTheLimitWithOneLineAndServeAgainOnceOneCloses() throws Exception {
        Path control = dir.resolve("control.sock");
        try (Vnicd vnicd = start(dir, null, new ControlServer.Limits(2, 1 << 20, Duration.ofSeconds(60)))) {
            List<SocketChannel> held = new ArrayList<>();
            held.add(open(control));
            held.add(open(control));
            try (SocketChannel third = open(control)) {
                JsonNode refused = JSON.readTree(readLine(third));
                assertEquals("too many control connections (at most 2): try again later", refused.path("error").asText());
                assertNull(readLine(third), "then closed");
            }
            held.removeFirst().close();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            JsonNode answer;
            do {
                Thread.sleep(50);
                answer = status(control);
            } while (!answer.path("ok").asBoolean() && System.nanoTime() < deadline);
            assertTrue(answer.path("ok").asBoolean(), "a freed slot serves the next client: " + answer);
            held.getFirst().close();
            assertEquals(1, vnicd.physicalFunctions().size());
        }
    }

    @Test
    void shouldDropAClientThatSendsNothing() throws Exception {
        Path control = dir.resolve("control.sock");
        try (Vnicd vnicd = start(dir, null, new ControlServer.Limits(16, 1 << 20, Duration.ofSeconds(1)));
             SocketChannel silent = open(control)) {
            long started = System.nanoTime();
            JsonNode dropped = JSON.readTree(readLine(silent));
            long waited = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
            assertEquals("nothing received for 1 s: closing the connection", dropped.path("error").asText());
            assertNull(readLine(silent));
            assertTrue(waited >= 900, "dropped after the idle limit, not before: " + waited + " ms");
            assertTrue(status(control).path("ok").asBoolean());
            assertEquals(1, vnicd.physicalFunctions().size());
        }
    }

    /** A directory the nobody user can search, for a control socket it may reach. */
    private Path searchableByNobody() throws IOException {
        peerDir = Files.createTempDirectory(Path.of("/tmp"), "vnicd-peer-",
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        Files.setPosixFilePermissions(peerDir, PosixFilePermissions.fromString("rwx--x--x"));
        return peerDir;
    }

    /** Asks for status as the nobody user (uid and gid 65534), from a JVM of its own; returns its answer line. */
    private String askAsNobody(Path control) throws Exception {
        Path source = peerDir.resolve("Peer.java");
        Files.writeString(source, """
                import java.io.*;
                import java.net.*;
                import java.nio.ByteBuffer;
                import java.nio.channels.*;
                public class Peer {
                    public static void main(String[] args) throws Exception {
                        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
                            ch.connect(UnixDomainSocketAddress.of(args[0]));
                            ch.write(ByteBuffer.wrap("{\\"command\\":\\"status\\"}\\n".getBytes()));
                            System.out.println(new BufferedReader(new InputStreamReader(Channels.newInputStream(ch))).readLine());
                        }
                    }
                }
                """);
        Files.setPosixFilePermissions(source, PosixFilePermissions.fromString("rw-r--r--"));
        Process p = new ProcessBuilder("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                ProcessHandle.current().info().command().orElseThrow(), "-XX:-UsePerfData", source.toString(), control.toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        return out.strip();
    }

    @Test
    void shouldRefuseAnotherUserEvenWhenTheSocketModeLetsItConnect() throws Exception {
        Path where = searchableByNobody();
        Path control = where.resolve("control.sock");
        try (Vnicd vnicd = start(where, null, ControlServer.Limits.DEFAULT)) {
            Files.setPosixFilePermissions(control, PosixFilePermissions.fromString("rw-rw-rw-")); // a mistaken chmod
            JsonNode answer = JSON.readTree(askAsNobody(control));
            assertFalse(answer.path("ok").asBoolean());
            assertEquals("user nobody may not use this control socket: only root may", answer.path("error").asText());
            assertTrue(status(control).path("ok").asBoolean(), "root still may");
            assertEquals(1, vnicd.physicalFunctions().size());
        }
    }

    @Test
    void shouldServeMembersOfTheControlGroup() throws Exception {
        Path where = searchableByNobody();
        Path control = where.resolve("control.sock");
        try (Vnicd vnicd = start(where, "nogroup", ControlServer.Limits.DEFAULT)) {
            assertEquals("rw-rw----", PosixFilePermissions.toString(Files.getPosixFilePermissions(control)));
            JsonNode answer = JSON.readTree(askAsNobody(control));
            assertTrue(answer.path("ok").asBoolean(), answer.toString());
            assertEquals(1, vnicd.physicalFunctions().size());
        }
    }
}

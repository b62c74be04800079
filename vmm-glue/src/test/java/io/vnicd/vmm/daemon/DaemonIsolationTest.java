package io.vnicd.vmm.daemon;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.vnicd.devmodel.monitor.MonitorRing;
import io.vnicd.vmm.runtime.PathInUseException;
import io.vnicd.vmm.runtime.RuntimeDirectory;
import io.vnicd.vmm.runtime.SocketLock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.*;

/** One daemon per socket path, and sockets only in a directory no one else can write. */
class DaemonIsolationTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private VnicdConfig config(Path where) {
        return new VnicdConfig(where.resolve("control.sock").toString(), null, List.of(new VnicdConfig.PfConfig("pf0", List.of(
                new VnicdConfig.VfConfig("vf0", where.resolve("vf0.sock").toString(), "server", 1, null),
                new VnicdConfig.VfConfig("vf1", where.resolve("vf1.sock").toString(), "server", 1, null)))));
    }

    private static boolean answers(Path control) {
        try {
            return JSON.readTree(ControlClient.request(control, "{\"command\":\"status\"}")).path("ok").asBoolean();
        } catch (IOException e) {
            return false;
        }
    }

    private static void connect(Path socket) throws IOException {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket));
        }
    }

    /** vnicd in a JVM of its own, as scripts/vnicd runs it. */
    private Process daemonProcess(Path configFile, Path log) throws IOException {
        return new ProcessBuilder(ProcessHandle.current().info().command().orElseThrow(), "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), Vnicd.class.getName(), "--config", configFile.toString())
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    @Test
    void shouldRefuseASecondDaemonOnTheSamePathsNamingTheHolderAndReclaimThemOnceItIsKilled() throws Exception {
        Path sockets = Files.createDirectory(dir.resolve("run"));
        Path configFile = dir.resolve("vnicd.json");
        Files.writeString(configFile, JSON.writeValueAsString(config(sockets)));
        Path control = sockets.resolve("control.sock");
        Process first = daemonProcess(configFile, dir.resolve("first.log"));
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (!answers(control)) {
                assertTrue(first.isAlive(), () -> "the first daemon died: " + read(dir.resolve("first.log")));
                assertTrue(System.nanoTime() < deadline, "the first daemon did not answer within 60 s");
                Thread.sleep(100);
            }
            String holder = "is in use by vnicd pid " + first.pid();

            PathInUseException inJvm = assertThrows(PathInUseException.class, () -> new Vnicd(config(sockets)).start());
            assertEquals(sockets.resolve("vf0.sock") + " " + holder, inJvm.getMessage());
            assertEquals(first.pid(), inJvm.holderPid());

            Process second = daemonProcess(configFile, dir.resolve("second.log"));
            assertTrue(second.waitFor(60, TimeUnit.SECONDS));
            assertEquals(1, second.exitValue());
            assertTrue(read(dir.resolve("second.log")).contains("vnicd: cannot start: " + sockets.resolve("vf0.sock") + " " + holder),
                    read(dir.resolve("second.log")));

            assertTrue(answers(control), "the first daemon's control socket still answers");
            connect(sockets.resolve("vf0.sock"));
            connect(sockets.resolve("vf1.sock"));

            first.destroyForcibly();
            assertTrue(first.waitFor(30, TimeUnit.SECONDS));
            Path ring = MonitorRing.pathFor("pf0-" + first.pid());
            assertTrue(Files.exists(sockets.resolve("vf0.sock")) && Files.exists(ring), "a killed daemon leaves its files");
            try (Vnicd vnicd = new Vnicd(config(sockets)).start()) {
                assertTrue(answers(control), "the stale paths were reclaimed");
                connect(sockets.resolve("vf0.sock"));
                assertFalse(Files.exists(ring), "the killed daemon's monitor ring was removed");
                assertEquals(ProcessHandle.current().pid() + "\n", Files.readString(SocketLock.lockFile(control)));
                assertEquals(1, vnicd.physicalFunctions().size());
            }
        } finally {
            first.destroyForcibly();
        }
    }

    private static String read(Path log) {
        try {
            return Files.readString(log);
        } catch (IOException e) {
            return e.toString();
        }
    }

    @Test
    void shouldRefuseASecondDaemonInTheSameProcessWithoutDisturbingTheFirst() throws Exception {
        Path control = dir.resolve("control.sock");
        try (Vnicd first = new Vnicd(config(dir).validate()).start()) {
            VnicdConfig other = new VnicdConfig(dir.resolve("control2.sock").toString(), null, List.of(new VnicdConfig.PfConfig("pf1",
                    List.of(new VnicdConfig.VfConfig("vf9", dir.resolve("vf1.sock").toString(), "server", 1, null)))));
            PathInUseException e = assertThrows(PathInUseException.class, () -> new Vnicd(other.validate()).start());
            assertEquals(dir.resolve("vf1.sock") + " is in use by vnicd pid " + ProcessHandle.current().pid() + " (this process)",
                    e.getMessage());
            assertFalse(Files.exists(dir.resolve("control2.sock")), "the refused daemon bound nothing");
            assertTrue(answers(control));
            connect(dir.resolve("vf1.sock"));
            assertEquals(1, first.physicalFunctions().size());
        }
        assertFalse(Files.exists(dir.resolve("vf1.sock")), "a daemon that stops removes its sockets");
        try (Vnicd again = new Vnicd(config(dir).validate()).start()) {
            assertTrue(answers(control), "and its paths are free again");
            assertEquals(1, again.physicalFunctions().size());
        }
    }

    @Test
    void shouldRefuseToStartInADirectoryAnotherUserOwnsTouchingNothing() throws Exception {
        Path theirs = Files.createDirectory(dir.resolve("theirs"));
        Files.setOwner(theirs, theirs.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("1000"));
        IOException e = assertThrows(IOException.class, () -> new Vnicd(config(theirs).validate()).start());
        assertEquals(theirs + " is owned by uid 1000, not by vnicd's user (" + RuntimeDirectory.effectiveUid()
                + "): refusing to create sockets there", e.getMessage());
        try (var files = Files.list(theirs)) {
            assertEquals(0, files.count(), "no socket or lock file was planted there");
        }
    }

    @Test
    void shouldGiveTheVfSocketsToTheirGroupAndTheDirectoryGroupSearchOnly() throws Exception {
        Path run = dir.resolve("run");
        VnicdConfig base = config(run);
        VnicdConfig grouped = new VnicdConfig(base.controlSocket(), null, base.physicalFunctions(), "nogroup", null, null);
        try (Vnicd vnicd = new Vnicd(grouped.validate()).start()) {
            PosixFileAttributes d = Files.readAttributes(run, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            assertEquals("rwxr-x---", PosixFilePermissions.toString(d.permissions()));
            assertEquals("nogroup", d.group().getName());
            PosixFileAttributes vf = Files.readAttributes(run.resolve("vf0.sock"), PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            assertEquals("rw-rw----", PosixFilePermissions.toString(vf.permissions()));
            assertEquals("nogroup", vf.group().getName());
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(run.resolve("control.sock"))),
                    "the control socket has no group: only root and vnicd's user");
            assertEquals(1, vnicd.physicalFunctions().size());
        }
        VnicdConfig clash = new VnicdConfig(base.controlSocket(), null, base.physicalFunctions(), "nogroup", null, "root");
        IOException e = assertThrows(IOException.class, () -> new Vnicd(clash.validate()).start());
        assertTrue(e.getMessage().contains("pf0/vf0 needs group nogroup and the control socket group root"), e.getMessage());
    }
}

package io.vnicd.vmm.runtime;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipal;

import static org.junit.jupiter.api.Assertions.*;

/** Where sockets may live: only in a directory of the daemon's user that no one else can write. */
class RuntimeDirectoryTest {
    @TempDir
    Path tmp;

    private static PosixFileAttributes attrs(Path p) throws IOException {
        return Files.readAttributes(p, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
    }

    private static String refusal(Path dir) {
        return assertThrows(IOException.class, () -> RuntimeDirectory.prepare(dir, null)).getMessage();
    }

    @Test
    void shouldCreateAMissingDirectoryAndItsParentsOnlyForTheDaemonsUser() throws Exception {
        Path dir = tmp.resolve("run/vnicd");
        RuntimeDirectory.prepare(dir, null);
        assertEquals("rwx------", PosixFilePermissions.toString(attrs(dir).permissions()));
        assertEquals("rwx------", PosixFilePermissions.toString(attrs(dir.getParent()).permissions()));
        assertEquals(Files.getOwner(Path.of("/proc/self")), attrs(dir).owner());
    }

    @Test
    void shouldLetTheSocketGroupSearchButNeverWriteTheDirectory() throws Exception {
        var nogroup = RuntimeDirectory.group("nogroup");
        Path made = tmp.resolve("made");
        RuntimeDirectory.prepare(made, nogroup);
        assertEquals("rwxr-x---", PosixFilePermissions.toString(attrs(made).permissions()));
        assertEquals(nogroup, attrs(made).group());

        Path existing = Files.createDirectory(tmp.resolve("existing"), PosixFilePermissions.asFileAttribute(
                PosixFilePermissions.fromString("rwx------")));
        RuntimeDirectory.prepare(existing, nogroup);
        assertEquals("rwx--x---", PosixFilePermissions.toString(attrs(existing).permissions()));
        assertEquals(nogroup, attrs(existing).group());
    }

    @Test
    void shouldRefuseADirectoryOwnedByAnotherUser() throws Exception {
        Path dir = Files.createDirectory(tmp.resolve("theirs"));
        UserPrincipal other = dir.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("1000");
        Files.setOwner(dir, other);
        String why = refusal(dir);
        assertTrue(why.contains(dir + " is owned by uid 1000, not by vnicd's user (" + RuntimeDirectory.effectiveUid() + ")"), why);
        assertTrue(why.contains("refusing to create sockets there"), why);
    }

    @Test
    void shouldRefuseADirectoryOthersOrItsGroupCanWrite() throws Exception {
        Path world = Files.createDirectory(tmp.resolve("world"));
        Files.setPosixFilePermissions(world, PosixFilePermissions.fromString("rwxrwxrwx"));
        assertTrue(refusal(world).contains("is writable by other users (mode 0777)"), refusal(world));
        Path group = Files.createDirectory(tmp.resolve("group"));
        Files.setPosixFilePermissions(group, PosixFilePermissions.fromString("rwxrwx---"));
        assertTrue(refusal(group).contains("is writable by its group (mode 0770)"), refusal(group));
        assertEquals("rwxrwx---", PosixFilePermissions.toString(attrs(group).permissions()), "left as it was");
    }

    @Test
    void shouldRefuseSocketsDirectlyInTmp() {
        String why = refusal(Path.of("/tmp"));
        assertTrue(why.contains("/tmp is writable by other users"), why);
    }

    @Test
    void shouldRefuseASymbolicLinkEvenToAGoodDirectory() throws Exception {
        Path good = Files.createDirectory(tmp.resolve("good"));
        Path link = Files.createSymbolicLink(tmp.resolve("link"), good);
        assertTrue(refusal(link).contains(link + " is a symbolic link"), refusal(link));
    }

    @Test
    void shouldRefuseADirectoryUnderOneOthersCanWriteThatIsNotSticky() throws Exception {
        Path open = Files.createDirectory(tmp.resolve("open"));
        Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rwxrwxrwx"));
        Path dir = open.resolve("vnicd");
        String why = refusal(dir);
        assertTrue(why.contains(open + " (above " + dir + ") is writable by other users and not sticky"), why);
        assertFalse(Files.exists(dir) && !Files.isDirectory(dir));
        // The same, sticky, as /tmp is: others cannot rename or remove what is ours in it.
        Files.setAttribute(open, "unix:mode", 01777);
        RuntimeDirectory.prepare(dir, null);
    }

    @Test
    void shouldRefuseADirectoryReachedThroughALinkToAnUnsafePlace() throws Exception {
        Path open = Files.createDirectory(tmp.resolve("open"));
        Files.createDirectory(open.resolve("vnicd"));
        Files.setPosixFilePermissions(open, PosixFilePermissions.fromString("rwxrwxrwx"));
        Path via = Files.createSymbolicLink(tmp.resolve("via"), open);
        String why = refusal(via.resolve("vnicd"));
        assertTrue(why.contains(open + " (above " + via.resolve("vnicd") + ") is writable by other users"), why);
    }

    @Test
    void shouldHoldAPathOnceAndReclaimAStaleSocketOnlyWhileHoldingIt() throws Exception {
        Path socket = tmp.resolve("vf0.sock");
        try (ServerSocketChannel stale = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            stale.bind(UnixDomainSocketAddress.of(socket)); // closing it leaves the file, as a killed daemon does
        }
        assertTrue(Files.exists(socket));
        try (SocketLock held = SocketLock.claim(socket)) {
            assertFalse(Files.exists(socket), "the stale socket was removed");
            assertEquals(ProcessHandle.current().pid() + "\n", Files.readString(SocketLock.lockFile(socket)));
            PathInUseException again = assertThrows(PathInUseException.class, () -> SocketLock.claim(socket));
            assertEquals(socket + " is in use by vnicd pid " + ProcessHandle.current().pid() + " (this process)", again.getMessage());
            assertEquals(tmp.toRealPath().resolve("vf0.sock"), held.socket());
        }
        SocketLock.claim(socket).close();
    }

    @Test
    void shouldRefuseToReplaceSomethingThatIsNotASocket() throws Exception {
        Path file = Files.writeString(tmp.resolve("precious"), "data");
        IOException e = assertThrows(IOException.class, () -> SocketLock.claim(file));
        assertEquals(file + " exists and is not a socket: refusing to replace it", e.getMessage());
        assertEquals("data", Files.readString(file));
        SocketLock.claim(tmp.resolve("other.sock")).close(); // and the refused claim released what it took
        assertThrows(IOException.class, () -> SocketLock.claim(file), "still refused: not left held");
    }
}

package io.vnicd.nativeio;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class NativeCallsTest {
    @TempDir
    Path dir;

    @Test
    void shouldShareMemfdPagesBetweenTwoMappings() throws Exception {
        try (SharedMemory a = SharedMemory.create("test", 1 << 20); SharedMemory b = SharedMemory.mapFile(a.fd())) {
            a.segment().set(ValueLayout.JAVA_LONG, 4096, 0xfeedL);
            assertEquals(0xfeedL, b.segment().get(ValueLayout.JAVA_LONG, 4096));
            assertEquals(1 << 20, b.segment().byteSize());
        }
    }

    @Test
    void shouldNameTheCallAndErrnoWhenACallFails() {
        NativeException e = assertThrows(NativeException.class, () -> LibC.close(987654));
        assertEquals("close", e.call());
        assertEquals(Errno.EBADF, e.errno());
        assertTrue(e.getMessage().contains("EBADF"), e.getMessage());
    }

    @Test
    void shouldWakeEpollWhenAnEventFdIsSignalled() throws Exception {
        try (Epoll epoll = new Epoll(4); EventFd kick = EventFd.create()) {
            epoll.add(kick.fd(), 42L);
            assertEquals(0, epoll.await(0));
            kick.signal();
            kick.signal();
            assertEquals(1, epoll.await(1000));
            assertEquals(42L, epoll.token(0));
            assertEquals(2L, kick.drain());
            assertEquals(0L, kick.drain());
        }
    }

    @Test
    void shouldPassFileDescriptorsOverAUnixSocket() throws Exception {
        Path path = dir.resolve("s.sock");
        try (UnixSocket server = UnixSocket.listen(path); Arena arena = Arena.ofConfined();
             SharedMemory shm = SharedMemory.create("passed", 4096)) {
            CompletableFuture<UnixSocket> accepted = CompletableFuture.supplyAsync(() -> {
                try {
                    return server.accept();
                } catch (NativeException e) {
                    throw new IllegalStateException(e);
                }
            });
            try (UnixSocket client = UnixSocket.connect(path); UnixSocket peer = accepted.get(5, TimeUnit.SECONDS)) {
                MemorySegment out = arena.allocateFrom("hello");
                shm.segment().set(ValueLayout.JAVA_INT, 0, 77);
                client.send(out, 6, new int[] {shm.fd()}, 1);
                MemorySegment in = arena.allocate(6);
                int[] fds = new int[UnixSocket.MAX_FDS];
                assertEquals(6, peer.receive(in, 6, fds));
                assertEquals(1, peer.lastFdCount());
                assertArrayEquals("hello".getBytes(), java.util.Arrays.copyOf(in.toArray(ValueLayout.JAVA_BYTE), 5));
                try (SharedMemory mapped = SharedMemory.mapFile(fds[0])) {
                    assertEquals(77, mapped.segment().get(ValueLayout.JAVA_INT, 0));
                } finally {
                    LibC.close(fds[0]);
                }
            }
        }
    }

    @Test
    void shouldReadEndOfFileAfterAHalfCloseAndStillAnswerOnAPair() throws Exception {
        UnixSocket[] pair = UnixSocket.pair();
        try (UnixSocket frontend = pair[0]; UnixSocket backend = pair[1]; Arena arena = Arena.ofConfined()) {
            int[] fds = new int[UnixSocket.MAX_FDS];
            frontend.send(arena.allocateFrom("ping"), 5, fds, 0);
            frontend.shutdownOutput();
            MemorySegment in = arena.allocate(16);
            assertEquals(5, backend.receive(in, 16, fds));
            assertEquals(0, backend.receive(in, 16, fds), "end of file after the half-close");
            backend.send(arena.allocateFrom("pong"), 5, fds, 0);
            assertEquals(5, frontend.receive(in, 16, fds), "the half-closed end still reads");
            assertEquals("pong", in.getString(0));
        }
    }
}

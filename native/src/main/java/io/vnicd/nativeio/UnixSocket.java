package io.vnicd.nativeio;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.io.IOException;

/**
 * A blocking AF_UNIX stream socket that can carry file descriptors (SCM_RIGHTS), as vhost-user needs.
 * <pre>
 * struct msghdr (x86_64), 56 bytes        struct cmsghdr, 16 bytes + data
 *  0 msg_name        8 msg_namelen          0 cmsg_len   8 cmsg_level  12 cmsg_type
 * 16 msg_iov        24 msg_iovlen          16 int fds[n]
 * 32 msg_control    40 msg_controllen
 * 48 msg_flags
 * </pre>
 */
public final class UnixSocket implements AutoCloseable {
    /** The most descriptors one message may carry; vhost-user's SET_MEM_TABLE sends one per region. */
    public static final int MAX_FDS = 32;

    private static final int AF_UNIX = 1;
    private static final int SOCK_STREAM = 1;
    private static final int SOCK_CLOEXEC = 0x80000;
    private static final int SOL_SOCKET = 1;
    private static final int SCM_RIGHTS = 1;
    private static final int MSG_CTRUNC = 0x8;
    private static final int MSG_NOSIGNAL = 0x4000;
    private static final int MSG_CMSG_CLOEXEC = 0x40000000;
    private static final int SUN_PATH_MAX = 107;
    private static final long MSGHDR_SIZE = 56;
    private static final long CMSG_HDR = 16;
    private static final long CONTROL_SIZE = CMSG_HDR + 4L * MAX_FDS;

    private final int fd;
    private final Path path;
    // GC-managed: a thread blocked in recvmsg may still use these when another closes the socket.
    private final Arena arena = Arena.ofAuto();
    // Receiving and sending have structures (and locks) of their own: one thread may block in a receive while
    // another sends on the same socket.
    private final MemorySegment msghdr = arena.allocate(MSGHDR_SIZE, 8);
    private final MemorySegment iov = arena.allocate(16, 8);
    private final MemorySegment control = arena.allocate(CONTROL_SIZE, 8);
    private final MemorySegment sendMsghdr = arena.allocate(MSGHDR_SIZE, 8);
    private final MemorySegment sendIov = arena.allocate(16, 8);
    private final MemorySegment sendControl = arena.allocate(CONTROL_SIZE, 8);
    private final Object receiving = new Object();
    private final Object sending = new Object();
    private volatile boolean closed;

    private UnixSocket(int fd, Path path) {
        this.fd = fd;
        this.path = path;
    }

    private static MemorySegment sockaddr(Arena arena, Path path) throws NativeException {
        byte[] bytes = path.toString().getBytes(StandardCharsets.UTF_8);
        if (bytes.length > SUN_PATH_MAX) {
            throw new NativeException("sockaddr_un", "socket path is " + bytes.length + " bytes, the limit is "
                    + SUN_PATH_MAX + ": " + path);
        }
        MemorySegment addr = arena.allocate(110, 2);
        addr.set(ValueLayout.JAVA_SHORT, 0, (short) AF_UNIX);
        MemorySegment.copy(bytes, 0, addr, ValueLayout.JAVA_BYTE, 2, bytes.length);
        return addr;
    }

    /** Listens on path, replacing a stale socket file left by an earlier run. */
    public static UnixSocket listen(Path path) throws IOException {
        Files.deleteIfExists(path);
        int fd = LibC.socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        try (Arena a = Arena.ofConfined()) {
            LibC.bind(fd, sockaddr(a, path), 110);
            LibC.listen(fd, 8);
        } catch (NativeException e) {
            LibC.closeQuietly(fd);
            throw new NativeException("listen on " + path + ": " + e.call(), e.getMessage());
        }
        return new UnixSocket(fd, path);
    }

    /** Connects to a listening socket at path. */
    public static UnixSocket connect(Path path) throws NativeException {
        int fd = LibC.socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        try (Arena a = Arena.ofConfined()) {
            LibC.connect(fd, sockaddr(a, path), 110);
        } catch (NativeException e) {
            LibC.closeQuietly(fd);
            throw e;
        }
        return new UnixSocket(fd, null);
    }

    /** Two connected sockets with no name (socketpair): a frontend and a back-end end in one process, for tests and fuzzing. */
    public static UnixSocket[] pair() throws NativeException {
        int[] fds = LibC.socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        return new UnixSocket[] {new UnixSocket(fds[0], null), new UnixSocket(fds[1], null)};
    }

    /** Half-closes: the peer reads end-of-file after what was sent, and can still answer on this socket. */
    public void shutdownOutput() throws NativeException {
        LibC.shutdownWrite(fd);
    }

    /** Blocks until a peer connects. Throws once this socket is closed. */
    public UnixSocket accept() throws NativeException {
        int peer = LibC.accept(fd, SOCK_CLOEXEC);
        return new UnixSocket(peer, null);
    }

    public int fd() {
        return fd;
    }

    /** The connected peer's credentials (SO_PEERCRED), as the kernel saw them when it connected. */
    public record PeerCredentials(int pid, int uid, int gid) {
    }

    private static final int SO_PEERCRED = 17;

    /**
     * The peer's pid, uid and gid (SO_PEERCRED: struct ucred, three ints).
     * <pre> 0 pid  4 uid  8 gid </pre>
     */
    public PeerCredentials peerCredentials() throws NativeException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment cred = a.allocate(12, 4);
            LibC.getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred);
            return new PeerCredentials(cred.get(ValueLayout.JAVA_INT, 0), cred.get(ValueLayout.JAVA_INT, 4),
                    cred.get(ValueLayout.JAVA_INT, 8));
        }
    }

    /**
     * Receives up to len bytes into buf with any descriptors that came with them. Descriptors beyond
     * fds.length are closed and reported as an error: a message is never half-understood.
     *
     * @return bytes received (0 when the peer closed); the number of fds is in {@link #lastFdCount()}.
     */
    public long receive(MemorySegment buf, long len, int[] fds) throws NativeException {
        synchronized (receiving) {
            return receiveLocked(buf, len, fds);
        }
    }

    private long receiveLocked(MemorySegment buf, long len, int[] fds) throws NativeException {
        msghdr.fill((byte) 0);
        iov.set(ValueLayout.ADDRESS, 0, buf);
        iov.set(ValueLayout.JAVA_LONG, 8, len);
        msghdr.set(ValueLayout.ADDRESS, 16, iov);
        msghdr.set(ValueLayout.JAVA_LONG, 24, 1L);
        msghdr.set(ValueLayout.ADDRESS, 32, control);
        msghdr.set(ValueLayout.JAVA_LONG, 40, CONTROL_SIZE);
        long n = LibC.recvmsg(fd, msghdr, MSG_CMSG_CLOEXEC);
        lastFdCount = 0;
        long controlLen = msghdr.get(ValueLayout.JAVA_LONG, 40);
        int received = 0;
        if (controlLen >= CMSG_HDR && control.get(ValueLayout.JAVA_INT, 8) == SOL_SOCKET
                && control.get(ValueLayout.JAVA_INT, 12) == SCM_RIGHTS) {
            received = (int) ((control.get(ValueLayout.JAVA_LONG, 0) - CMSG_HDR) / 4);
        }
        int flags = msghdr.get(ValueLayout.JAVA_INT, 48);
        if (received > fds.length || (flags & MSG_CTRUNC) != 0) {
            for (int i = 0; i < received; i++) {
                LibC.closeQuietly(control.get(ValueLayout.JAVA_INT, CMSG_HDR + 4L * i));
            }
            throw new NativeException("recvmsg", "the peer sent more file descriptors than " + fds.length);
        }
        for (int i = 0; i < received; i++) {
            fds[i] = control.get(ValueLayout.JAVA_INT, CMSG_HDR + 4L * i);
        }
        lastFdCount = received;
        return n;
    }

    private int lastFdCount;

    /** How many descriptors the last {@link #receive} delivered. */
    public int lastFdCount() {
        synchronized (receiving) {
            return lastFdCount;
        }
    }

    /** Reads exactly len bytes (no descriptors expected); false when the peer closed first. */
    public boolean readFully(MemorySegment buf, long len) throws NativeException {
        long done = 0;
        while (done < len) {
            long n = LibC.recv(fd, buf.asSlice(done), len - done, 0);
            if (n == 0) {
                return false;
            }
            if (n < 0) {
                throw new NativeException("recv", "socket unexpectedly non-blocking");
            }
            done += n;
        }
        return true;
    }

    /** Sends len bytes of buf, with fds attached to the first byte when there are any. */
    public void send(MemorySegment buf, long len, int[] fds, int fdCount) throws NativeException {
        synchronized (sending) {
            sendLocked(buf, len, fds, fdCount);
        }
    }

    private void sendLocked(MemorySegment buf, long len, int[] fds, int fdCount) throws NativeException {
        if (fdCount > MAX_FDS) {
            throw new NativeException("sendmsg", fdCount + " descriptors exceed " + MAX_FDS);
        }
        MemorySegment msghdr = sendMsghdr;
        MemorySegment iov = sendIov;
        MemorySegment control = sendControl;
        msghdr.fill((byte) 0);
        iov.set(ValueLayout.ADDRESS, 0, buf);
        iov.set(ValueLayout.JAVA_LONG, 8, len);
        msghdr.set(ValueLayout.ADDRESS, 16, iov);
        msghdr.set(ValueLayout.JAVA_LONG, 24, 1L);
        if (fdCount > 0) {
            long cmsgLen = CMSG_HDR + 4L * fdCount;
            control.set(ValueLayout.JAVA_LONG, 0, cmsgLen);
            control.set(ValueLayout.JAVA_INT, 8, SOL_SOCKET);
            control.set(ValueLayout.JAVA_INT, 12, SCM_RIGHTS);
            for (int i = 0; i < fdCount; i++) {
                control.set(ValueLayout.JAVA_INT, CMSG_HDR + 4L * i, fds[i]);
            }
            msghdr.set(ValueLayout.ADDRESS, 32, control);
            msghdr.set(ValueLayout.JAVA_LONG, 40, (cmsgLen + 7) & ~7L);
        }
        long sent = LibC.sendmsg(fd, msghdr, MSG_NOSIGNAL);
        while (sent >= 0 && sent < len) {
            long n = LibC.send(fd, buf.asSlice(sent), len - sent, MSG_NOSIGNAL);
            if (n < 0) {
                throw new NativeException("send", "socket unexpectedly non-blocking");
            }
            sent += n;
        }
    }

    /** Wakes any thread blocked on this socket and closes it; a listening socket's file is removed. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            LibC.shutdown(fd);
        } catch (NativeException ignored) {
            // a listening socket may refuse shutdown: close still releases it
        }
        LibC.closeQuietly(fd);
        if (path != null) {
            try {
                Files.deleteIfExists(path);
            } catch (IOException ignored) {
                // the file is only a name; the socket is closed
            }
        }
    }

    public boolean isClosed() {
        return closed;
    }
}

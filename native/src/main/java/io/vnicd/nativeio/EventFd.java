package io.vnicd.nativeio;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * An eventfd: a kernel counter that one side signals and the other waits on (epoll) and drains.
 * vhost-user's kick and call file descriptors are eventfds. Signalling and draining allocate nothing.
 */
public final class EventFd implements AutoCloseable {
    private final int fd;
    private volatile boolean closed;

    private EventFd(int fd) {
        this.fd = fd;
    }

    /** A new non-blocking eventfd. */
    public static EventFd create() throws NativeException {
        return new EventFd(LibC.eventfd(0, LibC.EFD_NONBLOCK | LibC.EFD_CLOEXEC));
    }

    /** Adopts an eventfd this process made itself (already non-blocking); this object closes it. */
    public static EventFd adopt(int fd) {
        return new EventFd(fd);
    }

    /**
     * Adopts a descriptor a peer sent as an eventfd (vhost-user kick and call fds), after checking that it is one
     * and making it non-blocking: the protocol does not require the sender to set O_NONBLOCK, and a read or a
     * write that blocks would stop the data-path thread of every VF of a PF. On success this object owns fd; on
     * failure fd is left to the caller.
     *
     * @throws NativeException naming what the descriptor is instead, or why it cannot be made non-blocking
     */
    public static EventFd adoptFromPeer(int fd) throws NativeException {
        String kind = kindOf(fd);
        if (!EVENTFD_KIND.equals(kind)) {
            throw new NativeException("eventfd", "descriptor is not an eventfd but " + kind);
        }
        int flags = LibC.fcntl(fd, LibC.F_GETFL, 0, "F_GETFL");
        if ((flags & LibC.O_NONBLOCK) == 0) {
            LibC.fcntl(fd, LibC.F_SETFL, flags | LibC.O_NONBLOCK, "F_SETFL O_NONBLOCK");
        }
        return new EventFd(fd);
    }

    private static final String EVENTFD_KIND = "anon_inode:[eventfd]";

    /** What a descriptor refers to, as /proc/self/fd names it ("anon_inode:[eventfd]", "pipe:[123]", a path). */
    static String kindOf(int fd) throws NativeException {
        try {
            return Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)).toString();
        } catch (IOException e) {
            throw new NativeException("readlink(/proc/self/fd/" + fd + ")", "not an open descriptor: " + e.getMessage());
        }
    }

    public int fd() {
        return fd;
    }

    /** Adds one to the counter, waking a waiter. A full counter already wakes it, so EAGAIN is success. */
    public void signal() throws NativeException {
        LibC.writeWord(fd, 1L);
    }

    /** Resets the counter; returns what it held, 0 when it was already 0. */
    public long drain() throws NativeException {
        long v = LibC.readWord(fd);
        return v == LibC.WOULD_BLOCK ? 0 : v;
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            LibC.closeQuietly(fd);
        }
    }

    @Override
    public String toString() {
        return "eventfd " + fd;
    }
}

package io.vnicd.nativeio;

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

    /** Adopts an eventfd received from a peer; this object closes it. */
    public static EventFd adopt(int fd) {
        return new EventFd(fd);
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

package io.vnicd.nativeio;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * An epoll instance. Each registered descriptor carries a 64-bit token of the caller's choosing,
 * returned by {@link #token(int)} after {@link #await(int)}.
 * <pre>
 * struct epoll_event (x86_64, packed): 12 bytes
 *  0      4                 12
 *  +------+-----------------+
 *  |events|      data       |
 *  +------+-----------------+
 * </pre>
 * Not thread-safe for waiting; {@link #add}/{@link #remove} may be called from any thread (the kernel orders them).
 */
public final class Epoll implements AutoCloseable {
    public static final int EPOLLIN = 0x001;
    public static final int EPOLLERR = 0x008;
    public static final int EPOLLHUP = 0x010;
    /** Edge-triggered: reported once per wake-up of the descriptor, whether or not anybody reads it. */
    public static final int EPOLLET = 1 << 31;
    private static final int EPOLL_CTL_ADD = 1;
    private static final int EPOLL_CTL_DEL = 2;
    private static final int EVENT_SIZE = 12;

    private final int fd;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment events;
    private final int capacity;

    public Epoll(int capacity) throws NativeException {
        this.fd = LibC.epollCreate();
        this.capacity = capacity;
        this.events = arena.allocate((long) EVENT_SIZE * capacity, 8);
    }

    /** Watches watched for input, level-triggered: the owner must drain it, or it stays ready. */
    public void add(int watched, long token) throws NativeException {
        add(watched, token, EPOLLIN);
    }

    /**
     * Watches watched for input, edge-triggered: every write to an eventfd wakes the waiter once, and nothing needs
     * to read the descriptor. For descriptors a peer controls, so that no read of ours can ever block on them.
     */
    public void addEdgeTriggered(int watched, long token) throws NativeException {
        add(watched, token, EPOLLIN | EPOLLET);
    }

    private void add(int watched, long token, int events) throws NativeException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ev = a.allocate(EVENT_SIZE, 8);
            ev.set(ValueLayout.JAVA_INT_UNALIGNED, 0, events);
            ev.set(ValueLayout.JAVA_LONG_UNALIGNED, 4, token);
            LibC.epollCtl(fd, EPOLL_CTL_ADD, watched, ev);
        }
    }

    /** Removes watched; a descriptor already closed (EBADF, ENOENT) is no error here. */
    public void remove(int watched) {
        try (Arena a = Arena.ofConfined()) {
            LibC.epollCtl(fd, EPOLL_CTL_DEL, watched, a.allocate(EVENT_SIZE, 8));
        } catch (NativeException e) {
            // already gone from the set
        }
    }

    /** Waits up to timeoutMillis (-1 forever); returns how many events are ready. */
    public int await(int timeoutMillis) throws NativeException {
        return LibC.epollWait(fd, events, capacity, timeoutMillis);
    }

    public long token(int index) {
        return events.get(ValueLayout.JAVA_LONG_UNALIGNED, (long) index * EVENT_SIZE + 4);
    }

    public int readyEvents(int index) {
        return events.get(ValueLayout.JAVA_INT_UNALIGNED, (long) index * EVENT_SIZE);
    }

    @Override
    public void close() {
        LibC.closeQuietly(fd);
        arena.close();
    }
}

package io.vnicd.nativeio;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Bindings to the C library (x86_64 Linux, glibc), one {@code static final MethodHandle} per function,
 * the C prototype beside it. Every call captures errno; a failure becomes a {@link NativeException}
 * naming the call. EINTR is retried; EAGAIN is reported as {@link #WOULD_BLOCK} where a caller polls.
 * <p>
 * No per-call allocation: errno capture and small scratch buffers live in a per-thread {@link Scratch}.
 */
@SuppressWarnings("restricted") // this class is the one place allowed to make raw native calls
public final class LibC {
    /** Returned instead of throwing where a non-blocking call would block (EAGAIN). */
    public static final int WOULD_BLOCK = -1;

    public static final int PROT_READ = 0x1;
    public static final int PROT_WRITE = 0x2;
    public static final int MAP_SHARED = 0x01;
    public static final int MAP_PRIVATE = 0x02;
    public static final int MAP_ANONYMOUS = 0x20;
    public static final int MAP_POPULATE = 0x08000;
    public static final int MFD_CLOEXEC = 0x0001;
    public static final int MFD_ALLOW_SEALING = 0x0002;
    public static final int EFD_NONBLOCK = 0x800;
    public static final int EFD_CLOEXEC = 0x80000;
    public static final int O_NONBLOCK = 0x800;
    public static final int O_CLOEXEC = 0x80000;
    public static final int SEEK_END = 2;
    /** fcntl(2) commands (asm-generic/fcntl.h, linux/fcntl.h). */
    public static final int F_GETFL = 3;
    public static final int F_SETFL = 4;
    /** memfd seals (linux/fcntl.h): F_ADD_SEALS, F_GET_SEALS and the seals themselves. */
    public static final int F_ADD_SEALS = 1033;
    public static final int F_GET_SEALS = 1034;
    public static final int F_SEAL_SEAL = 0x0001;
    public static final int F_SEAL_SHRINK = 0x0002;
    public static final int F_SEAL_GROW = 0x0004;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final SymbolLookup LIBC = LINKER.defaultLookup();
    private static final MemoryLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO = CAPTURE_LAYOUT.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");

    private static MethodHandle bind(String name, FunctionDescriptor descriptor, Linker.Option... options) {
        Linker.Option[] all = new Linker.Option[options.length + 1];
        all[0] = CAPTURE_ERRNO;
        System.arraycopy(options, 0, all, 1, options.length);
        return LINKER.downcallHandle(
                LIBC.find(name).orElseThrow(() -> new IllegalStateException("libc has no " + name)), descriptor, all);
    }

    /** int memfd_create(const char *name, unsigned int flags); */
    private static final MethodHandle MEMFD_CREATE = bind("memfd_create", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
    /** int ftruncate(int fd, off_t length); */
    private static final MethodHandle FTRUNCATE = bind("ftruncate", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG));
    /** off_t lseek(int fd, off_t offset, int whence); */
    private static final MethodHandle LSEEK = bind("lseek", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT));
    /** void *mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset); */
    private static final MethodHandle MMAP = bind("mmap",
            FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG));
    /** int munmap(void *addr, size_t length); */
    private static final MethodHandle MUNMAP = bind("munmap", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG));
    /** int eventfd(unsigned int initval, int flags); */
    private static final MethodHandle EVENTFD = bind("eventfd", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    /** ssize_t read(int fd, void *buf, size_t count); */
    private static final MethodHandle READ = bind("read", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    /** ssize_t write(int fd, const void *buf, size_t count); */
    private static final MethodHandle WRITE = bind("write", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
    /** int fcntl(int fd, int cmd, ...); called with one int argument. */
    private static final MethodHandle FCNTL = bind("fcntl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT),
            Linker.Option.firstVariadicArg(2));
    /** int close(int fd); */
    private static final MethodHandle CLOSE = bind("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    /** int epoll_create1(int flags); */
    private static final MethodHandle EPOLL_CREATE1 = bind("epoll_create1", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    /** int epoll_ctl(int epfd, int op, int fd, struct epoll_event *event); */
    private static final MethodHandle EPOLL_CTL = bind("epoll_ctl",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    /** int epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout); */
    private static final MethodHandle EPOLL_WAIT = bind("epoll_wait",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
    /** int socket(int domain, int type, int protocol); */
    private static final MethodHandle SOCKET = bind("socket", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
    /** int bind(int sockfd, const struct sockaddr *addr, socklen_t addrlen); */
    private static final MethodHandle BIND = bind("bind", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    /** int listen(int sockfd, int backlog); */
    private static final MethodHandle LISTEN = bind("listen", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    /** int accept4(int sockfd, struct sockaddr *addr, socklen_t *addrlen, int flags); */
    private static final MethodHandle ACCEPT4 = bind("accept4",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
    /** int connect(int sockfd, const struct sockaddr *addr, socklen_t addrlen); */
    private static final MethodHandle CONNECT = bind("connect", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    /** ssize_t sendmsg(int sockfd, const struct msghdr *msg, int flags); */
    private static final MethodHandle SENDMSG = bind("sendmsg", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
    /** ssize_t recvmsg(int sockfd, struct msghdr *msg, int flags); */
    private static final MethodHandle RECVMSG = bind("recvmsg", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
    /** ssize_t send(int sockfd, const void *buf, size_t len, int flags); */
    private static final MethodHandle SEND = bind("send", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    /** ssize_t recv(int sockfd, void *buf, size_t len, int flags); */
    private static final MethodHandle RECV = bind("recv", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT));
    /** int recvmmsg(int sockfd, struct mmsghdr *msgvec, unsigned int vlen, int flags, struct timespec *timeout); */
    private static final MethodHandle RECVMMSG = bind("recvmmsg",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS));
    /** int sendmmsg(int sockfd, struct mmsghdr *msgvec, unsigned int vlen, int flags); */
    private static final MethodHandle SENDMMSG = bind("sendmmsg",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT));
    /** int socketpair(int domain, int type, int protocol, int sv[2]); */
    private static final MethodHandle SOCKETPAIR = bind("socketpair",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
    /** int shutdown(int sockfd, int how); */
    private static final MethodHandle SHUTDOWN = bind("shutdown", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
    /** int setsockopt(int sockfd, int level, int optname, const void *optval, socklen_t optlen); */
    private static final MethodHandle SETSOCKOPT = bind("setsockopt",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
    /** int getsockopt(int sockfd, int level, int optname, void *optval, socklen_t *optlen); */
    private static final MethodHandle GETSOCKOPT = bind("getsockopt",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));
    /** ssize_t sendto(int sockfd, const void *buf, size_t len, int flags, const struct sockaddr *dest_addr, socklen_t addrlen); */
    private static final MethodHandle SENDTO = bind("sendto",
            FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
    /** long syscall(long number, ...): glibc has no mbind wrapper (libnuma does); the system call is used directly. */
    private static final MethodHandle SYSCALL_6 = bind("syscall", FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG,
            JAVA_LONG, JAVA_LONG, ADDRESS, JAVA_LONG, JAVA_LONG), Linker.Option.firstVariadicArg(1));
    /**
     * long syscall(long number, ...) with three arguments: glibc has no bpf wrapper (libbpf has one); the system call
     * is used directly, as {@code syscall(SYS_bpf, cmd, attr, size)}.
     */
    private static final MethodHandle SYSCALL_3 = bind("syscall", FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG,
            ADDRESS, JAVA_LONG), Linker.Option.firstVariadicArg(1));
    /** x86-64 system call number of bpf(2). */
    private static final long SYS_BPF = 321;
    /** x86-64 system call number of mbind(2). */
    private static final long SYS_MBIND = 237;
    /** mbind(2) mode: allocate on the given node, fall back to others when it has no memory left. */
    public static final int MPOL_PREFERRED = 1;
    /** int ioctl(int fd, unsigned long request, ...); called with one pointer argument. */
    private static final MethodHandle IOCTL = bind("ioctl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS),
            Linker.Option.firstVariadicArg(2));
    /** unsigned int if_nametoindex(const char *ifname); */
    private static final MethodHandle IF_NAMETOINDEX = bind("if_nametoindex", FunctionDescriptor.of(JAVA_INT, ADDRESS));
    /** char *strerror(int errnum); (no errno of its own worth capturing, but bound alike) */
    private static final MethodHandle STRERROR = LINKER.downcallHandle(LIBC.find("strerror").orElseThrow(),
            FunctionDescriptor.of(ADDRESS, JAVA_INT));

    /** Per-thread errno capture and an 8-byte scratch word, so that hot calls allocate nothing. */
    static final class Scratch {
        final MemorySegment state;
        final MemorySegment word;

        Scratch() {
            Arena arena = Arena.ofAuto();
            state = arena.allocate(CAPTURE_LAYOUT);
            word = arena.allocate(ValueLayout.JAVA_LONG);
        }

        int errno() {
            return (int) ERRNO.get(state, 0L);
        }
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    static Scratch scratch() {
        return SCRATCH.get();
    }

    private LibC() {
    }

    private static RuntimeException rethrow(Throwable t) {
        if (t instanceof RuntimeException r) {
            return r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException(t);
    }

    public static String strerror(int errno) {
        try {
            MemorySegment s = (MemorySegment) STRERROR.invokeExact(errno);
            return s.reinterpret(256).getString(0);
        } catch (Throwable t) {
            return "errno " + errno;
        }
    }

    public static int memfdCreate(String name, int flags) throws NativeException {
        Scratch s = scratch();
        try (Arena arena = Arena.ofConfined()) {
            int fd = (int) MEMFD_CREATE.invokeExact(s.state, arena.allocateFrom(name), flags);
            if (fd < 0) {
                throw new NativeException("memfd_create", s.errno());
            }
            return fd;
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    public static void ftruncate(int fd, long size) throws NativeException {
        Scratch s = scratch();
        int r;
        try {
            r = (int) FTRUNCATE.invokeExact(s.state, fd, size);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r < 0) {
            throw new NativeException("ftruncate", s.errno());
        }
    }

    /** The size of the file behind fd (lseek to its end). */
    public static long fileSize(int fd) throws NativeException {
        Scratch s = scratch();
        long r;
        try {
            r = (long) LSEEK.invokeExact(s.state, fd, 0L, SEEK_END);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r < 0) {
            throw new NativeException("lseek", s.errno());
        }
        return r;
    }

    /** Maps length bytes of fd at offset; the segment is bounded to length. Release with {@link #munmap}. */
    public static MemorySegment mmap(long length, int prot, int flags, int fd, long offset) throws NativeException {
        Scratch s = scratch();
        MemorySegment addr;
        try {
            addr = (MemorySegment) MMAP.invokeExact(s.state, MemorySegment.NULL, length, prot, flags, fd, offset);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (addr.address() == -1L) {
            throw new NativeException("mmap", s.errno());
        }
        return addr.reinterpret(length);
    }

    /**
     * Maps like {@link #mmap(long, int, int, int, long)}, the segment belonging to arena: closing the arena unmaps it.
     * With a shared arena, a thread still touching the mapping after that gets an IllegalStateException, not a crash.
     */
    public static MemorySegment mmap(long length, int prot, int flags, int fd, long offset, Arena arena)
            throws NativeException {
        MemorySegment mapping = mmap(length, prot, flags, fd, offset);
        return mapping.reinterpret(arena, LibC::unmapOnClose);
    }

    /**
     * Maps length bytes of anonymous private memory (MAP_PRIVATE | MAP_ANONYMOUS, plus extraFlags such as MAP_POPULATE),
     * readable and writable, owned by arena: closing the arena unmaps it.
     */
    public static MemorySegment mmapAnonymous(long length, int extraFlags, Arena arena) throws NativeException {
        return mmap(length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | extraFlags, -1, 0, arena);
    }

    private static void unmapOnClose(MemorySegment mapping) {
        try {
            munmap(mapping);
        } catch (NativeException e) {
            throw new IllegalStateException(e);
        }
    }

    public static void munmap(MemorySegment mapping) throws NativeException {
        Scratch s = scratch();
        int r;
        try {
            r = (int) MUNMAP.invokeExact(s.state, mapping, mapping.byteSize());
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r < 0) {
            throw new NativeException("munmap", s.errno());
        }
    }

    public static int eventfd(int initval, int flags) throws NativeException {
        Scratch s = scratch();
        int fd;
        try {
            fd = (int) EVENTFD.invokeExact(s.state, initval, flags);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (fd < 0) {
            throw new NativeException("eventfd", s.errno());
        }
        return fd;
    }

    /** read(2); EINTR retried; returns {@link #WOULD_BLOCK} on EAGAIN, 0 at end of file. */
    public static long read(int fd, MemorySegment buf, long count) throws NativeException {
        Scratch s = scratch();
        while (true) {
            long r;
            try {
                r = (long) READ.invokeExact(s.state, fd, buf, count);
            } catch (Throwable t) {
                throw rethrow(t);
            }
            if (r >= 0) {
                return r;
            }
            int errno = s.errno();
            if (errno == Errno.EAGAIN) {
                return WOULD_BLOCK;
            }
            if (errno != Errno.EINTR) {
                throw new NativeException("read", errno);
            }
        }
    }

    /** write(2); EINTR retried; returns {@link #WOULD_BLOCK} on EAGAIN. */
    public static long write(int fd, MemorySegment buf, long count) throws NativeException {
        Scratch s = scratch();
        while (true) {
            long r;
            try {
                r = (long) WRITE.invokeExact(s.state, fd, buf, count);
            } catch (Throwable t) {
                throw rethrow(t);
            }
            if (r >= 0) {
                return r;
            }
            int errno = s.errno();
            if (errno == Errno.EAGAIN) {
                return WOULD_BLOCK;
            }
            if (errno != Errno.EINTR) {
                throw new NativeException("write", errno);
            }
        }
    }

    /** Reads one 8-byte word (eventfd); returns the value, or {@link #WOULD_BLOCK} when there is none. */
    public static long readWord(int fd) throws NativeException {
        Scratch s = scratch();
        long r = read(fd, s.word, 8);
        if (r == WOULD_BLOCK) {
            return WOULD_BLOCK;
        }
        if (r != 8) {
            throw new NativeException("read", "short read of " + r + " bytes from an eventfd");
        }
        return s.word.get(ValueLayout.JAVA_LONG, 0);
    }

    /** Writes one 8-byte word (eventfd signal). Returns false when the counter is full (EAGAIN). */
    public static boolean writeWord(int fd, long value) throws NativeException {
        Scratch s = scratch();
        s.word.set(ValueLayout.JAVA_LONG, 0, value);
        return write(fd, s.word, 8) == 8;
    }

    /** fcntl(2) with an int argument (F_GETFL, F_SETFL, F_ADD_SEALS, F_GET_SEALS); returns its non-negative result. */
    public static int fcntl(int fd, int cmd, int arg, String what) throws NativeException {
        Scratch s = scratch();
        int r;
        try {
            r = (int) FCNTL.invokeExact(s.state, fd, cmd, arg);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r < 0) {
            throw new NativeException("fcntl(" + what + ")", s.errno());
        }
        return r;
    }

    public static void close(int fd) throws NativeException {
        Scratch s = scratch();
        int r;
        try {
            r = (int) CLOSE.invokeExact(s.state, fd);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        // Linux releases the descriptor even when close reports EINTR: never retry.
        if (r < 0 && s.errno() != Errno.EINTR) {
            throw new NativeException("close", s.errno());
        }
    }

    /** Closes fd and ignores failure: for cleanup paths that already report a first error. */
    public static void closeQuietly(int fd) {
        if (fd < 0) {
            return;
        }
        try {
            close(fd);
        } catch (NativeException ignored) {
            // cleanup: the descriptor is gone either way
        }
    }

    public static int epollCreate() throws NativeException {
        Scratch s = scratch();
        int fd;
        try {
            fd = (int) EPOLL_CREATE1.invokeExact(s.state, O_CLOEXEC);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (fd < 0) {
            throw new NativeException("epoll_create1", s.errno());
        }
        return fd;
    }

    public static void epollCtl(int epfd, int op, int fd, MemorySegment event) throws NativeException {
        Scratch s = scratch();
        int r;
        try {
            r = (int) EPOLL_CTL.invokeExact(s.state, epfd, op, fd, event);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r < 0) {
            throw new NativeException("epoll_ctl", s.errno());
        }
    }

    /** epoll_wait(2); returns the number of ready events, 0 on timeout or EINTR. */
    public static int epollWait(int epfd, MemorySegment events, int maxEvents, int timeoutMillis) throws NativeException {
        Scratch s = scratch();
        int r;
        try {
            r = (int) EPOLL_WAIT.invokeExact(s.state, epfd, events, maxEvents, timeoutMillis);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r < 0) {
            int errno = s.errno();
            if (errno == Errno.EINTR) {
                return 0;
            }
            throw new NativeException("epoll_wait", errno);
        }
        return r;
    }

    /** socketpair(2): two connected sockets, returned as {fd0, fd1}. */
    public static int[] socketpair(int domain, int type, int protocol) throws NativeException {
        Scratch s = scratch();
        int r;
        try {
            r = (int) SOCKETPAIR.invokeExact(s.state, domain, type, protocol, s.word);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r < 0) {
            throw new NativeException("socketpair", s.errno());
        }
        return new int[] {s.word.get(ValueLayout.JAVA_INT, 0), s.word.get(ValueLayout.JAVA_INT, 4)};
    }

    public static int socket(int domain, int type, int protocol) throws NativeException {
        Scratch s = scratch();
        int fd;
        try {
            fd = (int) SOCKET.invokeExact(s.state, domain, type, protocol);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (fd < 0) {
            throw new NativeException("socket", s.errno());
        }
        return fd;
    }

    public static void bind(int fd, MemorySegment addr, int addrLen) throws NativeException {
        Scratch s = scratch();
        int r;
        try {
            r = (int) BIND.invokeExact(s.state, fd, addr, addrLen);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r < 0) {
            throw new NativeException("bind", s.errno());
        }
    }

    public static void listen(int fd, int backlog) throws NativeException {
        Scratch s = scratch();
        int r;
        try {
            r = (int) LISTEN.invokeExact(s.state, fd, backlog);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r < 0) {
            throw new NativeException("listen", s.errno());
        }
    }

    /** accept4(2) with SOCK_CLOEXEC; returns {@link #WOULD_BLOCK} when nothing is pending on a non-blocking socket. */
    public static int accept(int fd, int flags) throws NativeException {
        Scratch s = scratch();
        while (true) {
            int r;
            try {
                r = (int) ACCEPT4.invokeExact(s.state, fd, MemorySegment.NULL, MemorySegment.NULL, flags);
            } catch (Throwable t) {
                throw rethrow(t);
            }
            if (r >= 0) {
                return r;
            }
            int errno = s.errno();
            if (errno == Errno.EAGAIN) {
                return WOULD_BLOCK;
            }
            if (errno != Errno.EINTR) {
                throw new NativeException("accept4", errno);
            }
        }
    }

    public static void connect(int fd, MemorySegment addr, int addrLen) throws NativeException {
        Scratch s = scratch();
        int r;
        try {
            r = (int) CONNECT.invokeExact(s.state, fd, addr, addrLen);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r < 0) {
            throw new NativeException("connect", s.errno());
        }
    }

    /** sendmsg(2); EINTR retried. */
    public static long sendmsg(int fd, MemorySegment msghdr, int flags) throws NativeException {
        Scratch s = scratch();
        while (true) {
            long r;
            try {
                r = (long) SENDMSG.invokeExact(s.state, fd, msghdr, flags);
            } catch (Throwable t) {
                throw rethrow(t);
            }
            if (r >= 0) {
                return r;
            }
            int errno = s.errno();
            if (errno == Errno.EAGAIN) {
                return WOULD_BLOCK;
            }
            if (errno != Errno.EINTR) {
                throw new NativeException("sendmsg", errno);
            }
        }
    }

    /** recvmsg(2); EINTR retried; {@link #WOULD_BLOCK} on EAGAIN; 0 when the peer closed. */
    public static long recvmsg(int fd, MemorySegment msghdr, int flags) throws NativeException {
        Scratch s = scratch();
        while (true) {
            long r;
            try {
                r = (long) RECVMSG.invokeExact(s.state, fd, msghdr, flags);
            } catch (Throwable t) {
                throw rethrow(t);
            }
            if (r >= 0) {
                return r;
            }
            int errno = s.errno();
            if (errno == Errno.EAGAIN) {
                return WOULD_BLOCK;
            }
            if (errno != Errno.EINTR) {
                throw new NativeException("recvmsg", errno);
            }
        }
    }

    /** send(2); EINTR retried; {@link #WOULD_BLOCK} on EAGAIN. */
    public static long send(int fd, MemorySegment buf, long len, int flags) throws NativeException {
        Scratch s = scratch();
        while (true) {
            long r;
            try {
                r = (long) SEND.invokeExact(s.state, fd, buf, len, flags);
            } catch (Throwable t) {
                throw rethrow(t);
            }
            if (r >= 0) {
                return r;
            }
            int errno = s.errno();
            if (errno == Errno.EAGAIN) {
                return WOULD_BLOCK;
            }
            if (errno != Errno.EINTR) {
                throw new NativeException("send", errno);
            }
        }
    }

    /** recv(2); EINTR retried; {@link #WOULD_BLOCK} on EAGAIN; 0 when the peer closed. */
    public static long recv(int fd, MemorySegment buf, long len, int flags) throws NativeException {
        Scratch s = scratch();
        while (true) {
            long r;
            try {
                r = (long) RECV.invokeExact(s.state, fd, buf, len, flags);
            } catch (Throwable t) {
                throw rethrow(t);
            }
            if (r >= 0) {
                return r;
            }
            int errno = s.errno();
            if (errno == Errno.EAGAIN) {
                return WOULD_BLOCK;
            }
            if (errno != Errno.EINTR) {
                throw new NativeException("recv", errno);
            }
        }
    }

    /**
     * sendto(2) without a destination address, for hot paths that count failures instead of throwing: returns the
     * bytes sent, or the negated errno (EAGAIN included). EINTR is retried. Never throws, never allocates.
     * A packet socket's TX ring is kicked with {@code sendtoOrErrno(fd, NULL, 0, MSG_DONTWAIT)}.
     */
    public static long sendtoOrErrno(int fd, MemorySegment buf, long len, int flags) {
        Scratch s = scratch();
        while (true) {
            long r;
            try {
                r = (long) SENDTO.invokeExact(s.state, fd, buf, len, flags, MemorySegment.NULL, 0);
            } catch (Throwable t) {
                throw rethrow(t);
            }
            if (r >= 0) {
                return r;
            }
            int errno = s.errno();
            if (errno != Errno.EINTR) {
                return -errno;
            }
        }
    }

    /**
     * recv(2) for sockets where some failures are events, not faults (a netlink socket's ENOBUFS): returns the bytes
     * received (with MSG_TRUNC in flags, the datagram's real length), or the negated errno (EAGAIN included). EINTR is
     * retried. Never throws, never allocates.
     */
    public static long recvOrErrno(int fd, MemorySegment buf, long len, int flags) {
        Scratch s = scratch();
        while (true) {
            long r;
            try {
                r = (long) RECV.invokeExact(s.state, fd, buf, len, flags);
            } catch (Throwable t) {
                throw rethrow(t);
            }
            if (r >= 0) {
                return r;
            }
            int errno = s.errno();
            if (errno != Errno.EINTR) {
                return -errno;
            }
        }
    }

    /**
     * recvmmsg(2) without a timeout: the datagrams received into msgvec (up to vlen), or the negated errno (EAGAIN
     * when none waits on a non-blocking call). EINTR is retried. Never throws, never allocates.
     */
    public static int recvmmsgOrErrno(int fd, MemorySegment msgvec, int vlen, int flags) {
        Scratch s = scratch();
        while (true) {
            int r;
            try {
                r = (int) RECVMMSG.invokeExact(s.state, fd, msgvec, vlen, flags, MemorySegment.NULL);
            } catch (Throwable t) {
                throw rethrow(t);
            }
            if (r >= 0) {
                return r;
            }
            int errno = s.errno();
            if (errno != Errno.EINTR) {
                return -errno;
            }
        }
    }

    /**
     * sendmmsg(2): how many of the vlen messages went (the rest may be sent again), or the negated errno of the first.
     * EINTR is retried. Never throws, never allocates.
     */
    public static int sendmmsgOrErrno(int fd, MemorySegment msgvec, int vlen, int flags) {
        Scratch s = scratch();
        while (true) {
            int r;
            try {
                r = (int) SENDMMSG.invokeExact(s.state, fd, msgvec, vlen, flags);
            } catch (Throwable t) {
                throw rethrow(t);
            }
            if (r >= 0) {
                return r;
            }
            int errno = s.errno();
            if (errno != Errno.EINTR) {
                return -errno;
            }
        }
    }

    /** shutdown(2) with SHUT_RDWR: wakes a thread blocked in accept or recvmsg on fd. ENOTCONN is not an error here. */
    public static void shutdown(int fd) throws NativeException {
        shutdown(fd, SHUT_RDWR);
    }

    /** shutdown(2) with SHUT_WR: the peer reads end-of-file once it has read what was sent. */
    public static void shutdownWrite(int fd) throws NativeException {
        shutdown(fd, SHUT_WR);
    }

    private static final int SHUT_WR = 1;
    private static final int SHUT_RDWR = 2;

    private static void shutdown(int fd, int how) throws NativeException {
        Scratch s = scratch();
        int r;
        try {
            r = (int) SHUTDOWN.invokeExact(s.state, fd, how);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r < 0 && s.errno() != Errno.ENOTCONN) {
            throw new NativeException("shutdown", s.errno());
        }
    }

    public static void setsockopt(int fd, int level, int name, MemorySegment value) throws NativeException {
        Scratch s = scratch();
        int r;
        try {
            r = (int) SETSOCKOPT.invokeExact(s.state, fd, level, name, value, (int) value.byteSize());
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r < 0) {
            throw new NativeException("setsockopt", s.errno());
        }
    }

    /**
     * getsockopt(2) into value (whose size is the buffer offered); returns the length the kernel wrote.
     * Uses the per-thread scratch word for the length, so it allocates nothing.
     */
    public static int getsockopt(int fd, int level, int name, MemorySegment value) throws NativeException {
        Scratch s = scratch();
        int r;
        try {
            s.word.set(ValueLayout.JAVA_INT, 0, (int) value.byteSize());
            r = (int) GETSOCKOPT.invokeExact(s.state, fd, level, name, value, s.word);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r < 0) {
            throw new NativeException("getsockopt", s.errno());
        }
        return s.word.get(ValueLayout.JAVA_INT, 0);
    }

    /** ioctl(2) with one pointer argument for calls polled often: returns its result, or the negated errno. Never throws. */
    public static int ioctlOrErrno(int fd, long request, MemorySegment arg) {
        Scratch s = scratch();
        int r;
        try {
            r = (int) IOCTL.invokeExact(s.state, fd, request, arg);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        return r < 0 ? -s.errno() : r;
    }

    /** ioctl(2) with one pointer argument; returns its non-negative result. */
    public static int ioctl(int fd, long request, MemorySegment arg, String what) throws NativeException {
        Scratch s = scratch();
        int r;
        try {
            r = (int) IOCTL.invokeExact(s.state, fd, request, arg);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r < 0) {
            throw new NativeException("ioctl(" + what + ")", s.errno());
        }
        return r;
    }

    /**
     * mbind(2): places the pages of mapping on NUMA node (MPOL_PREFERRED). Pages already touched keep their place,
     * so call it before the memory is first written.
     */
    public static void mbindPreferred(MemorySegment mapping, int node) throws NativeException {
        if (node < 0 || node >= 64) {
            throw new NativeException("mbind", "node " + node + " outside 0..63");
        }
        Scratch s = scratch();
        long r;
        try {
            s.word.set(ValueLayout.JAVA_LONG, 0, 1L << node);
            r = (long) SYSCALL_6.invokeExact(s.state, SYS_MBIND, mapping.address(), mapping.byteSize(), (long) MPOL_PREFERRED,
                    s.word, 64L, 0L);
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r < 0) {
            throw new NativeException("mbind(node " + node + ")", s.errno());
        }
    }

    /**
     * bpf(2): {@code int bpf(int cmd, union bpf_attr *attr, unsigned int size)}, through syscall(2). attr's whole size
     * is passed (the kernel takes a shorter or longer union as long as the tail it does not know is zero). Returns the
     * call's non-negative result (a new descriptor for the commands that create one); what names the command in the
     * exception. Nothing is retried: none of the commands used is interrupted or would block.
     */
    public static int bpf(int cmd, MemorySegment attr, String what) throws NativeException {
        Scratch s = scratch();
        long r;
        try {
            r = (long) SYSCALL_3.invokeExact(s.state, SYS_BPF, (long) cmd, attr, attr.byteSize());
        } catch (Throwable t) {
            throw rethrow(t);
        }
        if (r < 0) {
            throw new NativeException("bpf(" + what + ")", s.errno());
        }
        return (int) r;
    }

    /** The index of a network interface by name. */
    public static int ifNameToIndex(String name) throws NativeException {
        Scratch s = scratch();
        try (Arena arena = Arena.ofConfined()) {
            int r = (int) IF_NAMETOINDEX.invokeExact(s.state, arena.allocateFrom(name));
            if (r == 0) {
                throw new NativeException("if_nametoindex(" + name + ")", s.errno());
            }
            return r;
        } catch (NativeException e) {
            throw e;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }
}

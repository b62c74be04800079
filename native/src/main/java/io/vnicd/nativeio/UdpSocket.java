package io.vnicd.nativeio;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * A non-blocking IPv4 UDP socket that moves datagrams in batches: up to {@link #batch} received with one
 * recvmmsg(2) into buffers of its own, and queued ones sent with one sendmmsg(2) per {@link #flush}. The
 * don't-fragment bit is set (IP_PMTUDISC_DO): a datagram larger than the path takes is refused (EMSGSIZE, counted),
 * never fragmented. Nothing is allocated after construction. One thread uses it; counters may be read by any.
 * Datagrams the kernel drops because the receive buffer is full are counted too ({@link #rxOverflows}): the socket
 * asks for SO_RXQ_OVFL, and each datagram carries the socket's drop count in a control message.
 * <pre>
 * struct mmsghdr (64 bytes):  0 struct msghdr (56)  56 msg_len (u32)  60 pad
 * struct msghdr  (56 bytes):  0 msg_name  8 msg_namelen (u32)  16 msg_iov  24 msg_iovlen  32 msg_control
 *                             40 msg_controllen  48 msg_flags (int)
 * struct iovec   (16 bytes):  0 iov_base  8 iov_len
 * struct sockaddr_in (16):    0 sin_family (u16, AF_INET)  2 sin_port (be16)  4 sin_addr (be32)  8 zero
 * struct cmsghdr + u32 (24):  0 cmsg_len (u64)  8 cmsg_level  12 cmsg_type  16 the drop count (SO_RXQ_OVFL)
 * </pre>
 */
public final class UdpSocket implements AutoCloseable {
    private static final int AF_INET = 2;
    private static final int SOCK_DGRAM = 2;
    private static final int SOCK_NONBLOCK = 0x800;
    private static final int SOCK_CLOEXEC = 0x80000;
    private static final int SOL_SOCKET = 1;
    private static final int SO_REUSEADDR = 2;
    private static final int SO_SNDBUF = 7;
    private static final int SO_RCVBUF = 8;
    private static final int SO_RCVBUFFORCE = 33;
    private static final int SO_RXQ_OVFL = 40;
    /** CMSG_SPACE(sizeof(u32)): one SO_RXQ_OVFL control message. */
    private static final long CONTROL = 24;
    private static final int IPPROTO_IP = 0;
    private static final int IP_MTU_DISCOVER = 10;
    private static final int IP_PMTUDISC_DO = 2;
    private static final int MSG_DONTWAIT = 0x40;
    private static final int MSG_TRUNC = 0x20;
    private static final long MMSGHDR = 64;
    private static final long SOCKADDR = 16;
    private static final ValueLayout.OfShort BE_SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfInt BE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final VarHandle LONGS = MethodHandles.arrayElementVarHandle(long[].class);
    private static final int RX_DATAGRAMS = 0;
    private static final int RX_BYTES = 1;
    private static final int RX_TRUNCATED = 2;
    private static final int TX_DATAGRAMS = 3;
    private static final int TX_BYTES = 4;
    private static final int TX_TOO_BIG = 5;
    private static final int TX_ERRORS = 6;
    private static final int TX_BUSY = 7;
    private static final int RX_OVERFLOWS = 8;

    /** One received datagram: its bytes, and who sent it (IPv4 address and port). */
    @FunctionalInterface
    public interface DatagramHandler {
        /** @return true when taken; false keeps it, and the next {@link #receive} offers it again first */
        boolean onDatagram(MemorySegment segment, long offset, int length, int sourceIp, int sourcePort);
    }

    private final int fd;
    private final int batch;
    private final int bufferSize;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment rxVec;
    private final MemorySegment rxIov;
    private final MemorySegment rxAddr;
    private final MemorySegment rxControl;
    private final MemorySegment rxBuf;
    private final MemorySegment txVec;
    private final MemorySegment txIov;
    private final MemorySegment txAddr;
    private final MemorySegment txBuf;
    private final long[] counts = new long[9];
    /** The kernel's drop count as the last control message said it (a u32 that wraps). */
    private long lastDrops;
    private int rxCount;
    private int rxNext;
    private int txQueued;
    private int lastTxErrno;
    private volatile boolean closed;

    private UdpSocket(int fd, int batch, int bufferSize) {
        this.fd = fd;
        this.batch = batch;
        this.bufferSize = bufferSize;
        rxVec = arena.allocate(MMSGHDR * batch, 8);
        rxIov = arena.allocate(16L * batch, 8);
        rxAddr = arena.allocate(SOCKADDR * batch, 8);
        rxControl = arena.allocate(CONTROL * batch, 8);
        rxBuf = arena.allocate((long) bufferSize * batch, 64);
        txVec = arena.allocate(MMSGHDR * batch, 8);
        txIov = arena.allocate(16L * batch, 8);
        txAddr = arena.allocate(SOCKADDR * batch, 8);
        txBuf = arena.allocate((long) bufferSize * batch, 64);
        for (int i = 0; i < batch; i++) {
            long m = MMSGHDR * i;
            rxIov.set(ValueLayout.ADDRESS, 16L * i, rxBuf.asSlice((long) bufferSize * i, bufferSize));
            rxIov.set(ValueLayout.JAVA_LONG, 16L * i + 8, bufferSize);
            txIov.set(ValueLayout.ADDRESS, 16L * i, txBuf.asSlice((long) bufferSize * i, bufferSize));
        }
        rearmReceive();
        for (int i = 0; i < batch; i++) {
            long m = MMSGHDR * i;
            txVec.set(ValueLayout.ADDRESS, m, txAddr.asSlice(SOCKADDR * i, SOCKADDR));
            txVec.set(ValueLayout.JAVA_INT, m + 8, (int) SOCKADDR);
            txVec.set(ValueLayout.ADDRESS, m + 16, txIov.asSlice(16L * i, 16));
            txVec.set(ValueLayout.JAVA_LONG, m + 24, 1L);
        }
    }

    /**
     * A socket bound to ip:port (ip 0: any local address; the source of what it sends is then the one the host
     * routes from).
     *
     * @param batch      datagrams per recvmmsg/sendmmsg
     * @param bufferSize the largest datagram it receives or sends
     */
    public static UdpSocket bind(int ip, int port, int batch, int bufferSize) throws NativeException {
        if (batch < 1 || batch > 1024 || bufferSize < 64 || bufferSize > 65536) {
            throw new NativeException("socket", "batch " + batch + " / buffer " + bufferSize + " out of range");
        }
        int fd = LibC.socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment one = a.allocate(ValueLayout.JAVA_INT);
            one.set(ValueLayout.JAVA_INT, 0, 1);
            LibC.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, one);
            MemorySegment size = a.allocate(ValueLayout.JAVA_INT);
            size.set(ValueLayout.JAVA_INT, 0, 4 << 20);
            // as root the buffer may exceed net.core.rmem_max (SO_RCVBUFFORCE); otherwise what the limit allows
            try {
                LibC.setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, size);
            } catch (NativeException notPermitted) {
                LibC.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, size);
            }
            LibC.setsockopt(fd, SOL_SOCKET, SO_RXQ_OVFL, one);
            LibC.setsockopt(fd, SOL_SOCKET, SO_SNDBUF, size);
            MemorySegment df = a.allocate(ValueLayout.JAVA_INT);
            df.set(ValueLayout.JAVA_INT, 0, IP_PMTUDISC_DO);
            LibC.setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, df);
            MemorySegment addr = a.allocate(SOCKADDR, 4);
            sockaddr(addr, 0, ip, port);
            LibC.bind(fd, addr, (int) SOCKADDR);
        } catch (NativeException e) {
            LibC.closeQuietly(fd);
            throw new NativeException("bind udp " + ipString(ip) + ":" + port + ": " + e.call(), e.getMessage());
        }
        return new UdpSocket(fd, batch, bufferSize);
    }

    private static void sockaddr(MemorySegment s, long at, int ip, int port) {
        s.set(ValueLayout.JAVA_SHORT_UNALIGNED, at, (short) AF_INET);
        s.set(BE_SHORT, at + 2, (short) port);
        s.set(BE_INT, at + 4, ip);
        s.set(ValueLayout.JAVA_LONG_UNALIGNED, at + 8, 0L);
    }

    public static String ipString(int ip) {
        return (ip >>> 24) + "." + (ip >>> 16 & 0xff) + "." + (ip >>> 8 & 0xff) + "." + (ip & 0xff);
    }

    /** Parses a dotted IPv4 address. */
    public static int parseIp(String text) {
        String[] p = text.trim().split("\\.");
        if (p.length != 4) {
            throw new IllegalArgumentException("'" + text + "' is not an IPv4 address");
        }
        int ip = 0;
        for (String part : p) {
            int v;
            try {
                v = Integer.parseInt(part);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("'" + text + "' is not an IPv4 address", e);
            }
            if (v < 0 || v > 255 || part.isEmpty() || part.length() > 3) {
                throw new IllegalArgumentException("'" + text + "' is not an IPv4 address");
            }
            ip = ip << 8 | v;
        }
        return ip;
    }

    public int fd() {
        return fd;
    }

    private void rearmReceive() {
        for (int i = 0; i < batch; i++) {
            long m = MMSGHDR * i;
            rxVec.set(ValueLayout.ADDRESS, m, rxAddr.asSlice(SOCKADDR * i, SOCKADDR));
            rxVec.set(ValueLayout.JAVA_INT, m + 8, (int) SOCKADDR);
            rxVec.set(ValueLayout.ADDRESS, m + 16, rxIov.asSlice(16L * i, 16));
            rxVec.set(ValueLayout.JAVA_LONG, m + 24, 1L);
            rxVec.set(ValueLayout.ADDRESS, m + 32, rxControl.asSlice(CONTROL * i, CONTROL));
            rxVec.set(ValueLayout.JAVA_LONG, m + 40, CONTROL);
            rxVec.set(ValueLayout.JAVA_INT, m + 48, 0);
        }
    }

    /**
     * Hands up to budget datagrams to handler, first those a previous call received and the handler kept, then a new
     * batch (one recvmmsg) once those are all taken. Returns how many were taken. Datagrams larger than a buffer are
     * counted and skipped.
     */
    public int receive(DatagramHandler handler, int budget) {
        int taken = 0;
        while (taken < budget) {
            if (rxNext == rxCount) {
                rxNext = 0;
                rxCount = 0;
                rearmReceive();
                int n = LibC.recvmmsgOrErrno(fd, rxVec, Math.min(batch, budget - taken), MSG_DONTWAIT);
                if (n <= 0) {
                    break;
                }
                rxCount = n;
                overflows(n);
            }
            long m = MMSGHDR * rxNext;
            int len = rxVec.get(ValueLayout.JAVA_INT, m + 56);
            int flags = rxVec.get(ValueLayout.JAVA_INT, m + 48);
            long addr = SOCKADDR * rxNext;
            if ((flags & MSG_TRUNC) != 0 || len > bufferSize) {
                add(RX_TRUNCATED, 1);
                rxNext++;
                continue;
            }
            int ip = rxAddr.get(BE_INT, addr + 4);
            int port = Short.toUnsignedInt(rxAddr.get(BE_SHORT, addr + 2));
            if (!handler.onDatagram(rxBuf, (long) bufferSize * rxNext, len, ip, port)) {
                break;
            }
            add(RX_DATAGRAMS, 1);
            add(RX_BYTES, len);
            rxNext++;
            taken++;
        }
        return taken;
    }

    /**
     * Queues a datagram of head (headLength bytes) then body (its bytes are copied now: they need not outlive the
     * call) to ip:port; flushes first when the batch is full. False when it exceeds a buffer (counted as too big).
     */
    public boolean send(MemorySegment head, int headLength, MemorySegment body, long offset, int length, int ip, int port) {
        int total = headLength + length;
        if (total > bufferSize) {
            add(TX_TOO_BIG, 1);
            return false;
        }
        if (txQueued == batch) {
            flush();
            if (txQueued == batch) {
                add(TX_BUSY, 1);
                return false;
            }
        }
        int i = txQueued++;
        long at = (long) bufferSize * i;
        MemorySegment.copy(head, 0, txBuf, at, headLength);
        MemorySegment.copy(body, offset, txBuf, at + headLength, length);
        txIov.set(ValueLayout.JAVA_LONG, 16L * i + 8, total);
        sockaddr(txAddr, SOCKADDR * i, ip, port);
        return true;
    }

    /** True while datagrams are queued. */
    public boolean txPending() {
        return txQueued > 0;
    }

    /**
     * Sends what is queued (sendmmsg); returns how many went. A datagram the kernel refuses (EMSGSIZE: larger than the
     * path's MTU with don't-fragment set; or unreachable) is counted and dropped, and the rest still go; EAGAIN
     * (the socket's buffer full) keeps them for the next flush, counted as busy.
     */
    public int flush() {
        int sent = 0;
        while (txQueued > 0) {
            int n = LibC.sendmmsgOrErrno(fd, txVec.asSlice(MMSGHDR * sent), txQueued, MSG_DONTWAIT);
            if (n > 0) {
                for (int k = 0; k < n; k++) {
                    add(TX_DATAGRAMS, 1);
                    add(TX_BYTES, txIov.get(ValueLayout.JAVA_LONG, 16L * (sent + k) + 8));
                }
                sent += n;
                txQueued -= n;
                continue;
            }
            int errno = -n;
            if (errno == Errno.EAGAIN || errno == Errno.ENOBUFS) {
                add(TX_BUSY, 1);
                compact(sent);
                return sent;
            }
            // the first queued datagram is refused: drop it, counted by why, and go on with the rest
            lastTxErrno = errno;
            add(errno == Errno.EMSGSIZE ? TX_TOO_BIG : TX_ERRORS, 1);
            sent++;
            txQueued--;
        }
        return sent;
    }

    /** Moves datagrams not yet sent to the front of the batch. */
    private void compact(int from) {
        if (from == 0) {
            return;
        }
        for (int k = 0; k < txQueued; k++) {
            int src = from + k;
            long len = txIov.get(ValueLayout.JAVA_LONG, 16L * src + 8);
            MemorySegment.copy(txBuf, (long) bufferSize * src, txBuf, (long) bufferSize * k, len);
            txIov.set(ValueLayout.JAVA_LONG, 16L * k + 8, len);
            MemorySegment.copy(txAddr, SOCKADDR * src, txAddr, SOCKADDR * k, SOCKADDR);
        }
    }

    /** The drop count the last of n datagrams carried: what it grew by since the one before is counted. */
    private void overflows(int n) {
        long m = MMSGHDR * (n - 1);
        long c = CONTROL * (n - 1);
        if (rxVec.get(ValueLayout.JAVA_LONG, m + 40) < 20 || rxControl.get(ValueLayout.JAVA_INT, c + 8) != SOL_SOCKET
                || rxControl.get(ValueLayout.JAVA_INT, c + 12) != SO_RXQ_OVFL) {
            return;
        }
        long drops = Integer.toUnsignedLong(rxControl.get(ValueLayout.JAVA_INT, c + 16));
        long grew = (drops - lastDrops) & 0xffff_ffffL;
        lastDrops = drops;
        if (grew != 0) {
            add(RX_OVERFLOWS, grew);
        }
    }

    private void add(int counter, long delta) {
        LONGS.setOpaque(counts, counter, counts[counter] + delta);
    }

    private long get(int counter) {
        return (long) LONGS.getOpaque(counts, counter);
    }

    public long rxDatagrams() {
        return get(RX_DATAGRAMS);
    }

    public long rxBytes() {
        return get(RX_BYTES);
    }

    public long rxTruncated() {
        return get(RX_TRUNCATED);
    }

    /**
     * Datagrams the kernel dropped for this socket before it read them (its receive buffer full), as the datagrams
     * that arrived after them reported (SO_RXQ_OVFL): drops after the last datagram received show with the next.
     */
    public long rxOverflows() {
        return get(RX_OVERFLOWS);
    }

    public long txDatagrams() {
        return get(TX_DATAGRAMS);
    }

    public long txBytes() {
        return get(TX_BYTES);
    }

    /** Datagrams refused as larger than the path allows (EMSGSIZE) or than a buffer. */
    public long txTooBig() {
        return get(TX_TOO_BIG);
    }

    public long txErrors() {
        return get(TX_ERRORS);
    }

    /** Times the socket's send buffer was full (datagrams kept for the next flush), or a batch had no room. */
    public long txBusy() {
        return get(TX_BUSY);
    }

    public int lastTxErrno() {
        return lastTxErrno;
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            LibC.closeQuietly(fd);
            arena.close();
        }
    }
}

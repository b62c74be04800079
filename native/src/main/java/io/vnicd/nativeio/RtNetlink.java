package io.vnicd.nativeio;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.charset.StandardCharsets;

/**
 * Link events from rtnetlink (NETLINK_ROUTE, multicast group RTNLGRP_LINK): every RTM_NEWLINK / RTM_DELLINK the
 * kernel sends for this network namespace, and the answers to {@link #requestDump}. rtnetlink(7), linux/netlink.h,
 * linux/rtnetlink.h and linux/if_link.h are the reference.
 * <pre>
 * struct nlmsghdr, 16 bytes                 struct ifinfomsg, 16 bytes (after the header)
 *  0 nlmsg_len (u32, header included)        0 ifi_family (u8)   1 pad   2 ifi_type (u16)
 *  4 nlmsg_type (u16)  6 nlmsg_flags (u16)   4 ifi_index (s32)   8 ifi_flags (u32)   12 ifi_change (u32)
 *  8 nlmsg_seq (u32)  12 nlmsg_pid (u32)     then attributes, each aligned to 4:
 * messages follow each other aligned to 4   struct rtattr: 0 rta_len (u16, header included) 2 rta_type (u16), payload
 * NLMSG_ERROR: 16 int error (-errno, 0 = ack), then the request's header.   NLMSG_DONE ends a dump.
 * struct sockaddr_nl, 12 bytes: 0 nl_family (u16) 2 pad 4 nl_pid (u32) 8 nl_groups (u32)
 * </pre>
 * One owner thread calls {@link #read} and {@link #requestDump}; the counters may be read by any thread.
 */
public final class RtNetlink implements AutoCloseable {
    /**
     * A link's state as one RTM_NEWLINK or RTM_DELLINK told it.
     *
     * @param deleted   RTM_DELLINK
     * @param ifindex   ifi_index
     * @param name      IFLA_IFNAME
     * @param flags     ifi_flags (IFF_UP 0x1, IFF_RUNNING 0x40, IFF_LOWER_UP 0x10000, ...)
     * @param operState IFLA_OPERSTATE (IF_OPER_UP 6, IF_OPER_DOWN 2, IF_OPER_LOWERLAYERDOWN 7, ...; UNKNOWN 0 when absent)
     * @param carrier   IFLA_CARRIER, -1 when absent
     * @param mac       IFLA_ADDRESS (6 bytes, first octet most significant), -1 when absent or not 6 bytes
     * @param mtu       IFLA_MTU, 0 when absent
     * @param link      IFLA_LINK (the ifindex a stacked device sits on, a veth's peer), -1 when absent
     */
    public record LinkEvent(boolean deleted, int ifindex, String name, int flags, int operState, int carrier, long mac,
                            int mtu, int link) {
        public static final int IFF_UP = 0x1;
        public static final int IFF_RUNNING = 0x40;
        public static final int IFF_LOWER_UP = 0x10000;
        /** RFC 2863 operational states (IFLA_OPERSTATE). */
        public static final int IF_OPER_UNKNOWN = 0;
        public static final int IF_OPER_DOWN = 2;
        public static final int IF_OPER_LOWERLAYERDOWN = 7;
        public static final int IF_OPER_UP = 6;

        /** Administratively up (IFF_UP). */
        public boolean up() {
            return (flags & IFF_UP) != 0;
        }

        /** The carrier is there: IFF_LOWER_UP, or IFLA_CARRIER 1. */
        public boolean lowerUp() {
            return (flags & IFF_LOWER_UP) != 0 || carrier == 1;
        }
    }

    public interface Handler {
        void onLink(LinkEvent e);

        /** The kernel dropped events (ENOBUFS, the receive buffer was full): the caller must dump again. */
        void overrun();
    }

    private static final int AF_NETLINK = 16;
    private static final int NETLINK_ROUTE = 0;
    private static final int SOCK_RAW = 3;
    private static final int SOCK_NONBLOCK = 0x800;
    private static final int SOCK_CLOEXEC = 0x80000;
    private static final int RTMGRP_LINK = 1;
    private static final int SOL_SOCKET = 1;
    private static final int SO_RCVBUF = 8;
    private static final int SO_RCVBUFFORCE = 33;
    private static final int RCVBUF = 4 << 20;
    private static final int MSG_TRUNC = 0x20;

    static final int NLMSG_NOOP = 1;
    static final int NLMSG_ERROR = 2;
    static final int NLMSG_DONE = 3;
    static final int NLMSG_OVERRUN = 4;
    static final int RTM_NEWLINK = 16;
    static final int RTM_DELLINK = 17;
    static final int RTM_GETLINK = 18;
    private static final int NLM_F_REQUEST = 0x1;
    private static final int NLM_F_DUMP = 0x300;
    static final int NLMSG_HDRLEN = 16;
    static final int IFINFOMSG_LEN = 16;
    static final int RTA_HDRLEN = 4;
    static final int IFLA_ADDRESS = 1;
    static final int IFLA_IFNAME = 3;
    static final int IFLA_MTU = 4;
    static final int IFLA_LINK = 5;
    static final int IFLA_OPERSTATE = 16;
    static final int IFLA_CARRIER = 33;
    /** rta_type carries NLA_F_NESTED (0x8000) and NLA_F_NET_BYTEORDER (0x4000) above the type. */
    private static final int NLA_TYPE_MASK = 0x3fff;

    /** A netlink datagram from the kernel is at most 32 KiB (a dump's skb); twice that leaves room. */
    private static final int BUFFER_SIZE = 64 << 10;

    private final int fd;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment buffer = arena.allocate(BUFFER_SIZE, 8);
    private final MemorySegment request = arena.allocate(NLMSG_HDRLEN + IFINFOMSG_LEN, 8);
    private int seq;
    private boolean dumpRunning;
    private boolean dumpWanted;
    private boolean closed;

    private long malformed;
    private long overruns;
    private static final VarHandle MALFORMED;
    private static final VarHandle OVERRUNS;

    static {
        try {
            MALFORMED = MethodHandles.lookup().findVarHandle(RtNetlink.class, "malformed", long.class);
            OVERRUNS = MethodHandles.lookup().findVarHandle(RtNetlink.class, "overruns", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private RtNetlink(int fd) {
        this.fd = fd;
    }

    /** A socket not bound to anything, for parsing tests. */
    static RtNetlink unbound() {
        return new RtNetlink(-1);
    }

    /**
     * NETLINK_ROUTE, SOCK_RAW (non-blocking, close-on-exec), bound to RTMGRP_LINK, with a 4 MiB receive buffer
     * (SO_RCVBUFFORCE, or SO_RCVBUF capped at rmem_max without CAP_NET_ADMIN) so that a flap storm fits.
     */
    public static RtNetlink open() throws NativeException {
        int fd = LibC.socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
        try (Arena temp = Arena.ofConfined()) {
            MemorySegment size = temp.allocate(ValueLayout.JAVA_INT);
            size.set(ValueLayout.JAVA_INT, 0, RCVBUF);
            try {
                LibC.setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, size);
            } catch (NativeException e) {
                LibC.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, size);
            }
            MemorySegment addr = temp.allocate(12, 4);
            addr.set(ValueLayout.JAVA_SHORT, 0, (short) AF_NETLINK);
            addr.set(ValueLayout.JAVA_INT, 8, RTMGRP_LINK);
            LibC.bind(fd, addr, 12);
            return new RtNetlink(fd);
        } catch (NativeException | RuntimeException e) {
            LibC.closeQuietly(fd);
            throw e;
        }
    }

    /** For epoll: readable while messages wait. */
    public int fd() {
        return fd;
    }

    /**
     * Asks for every link (RTM_GETLINK, NLM_F_DUMP); the answers arrive as events through {@link #read}. Asked while
     * a dump is still running (the kernel allows one per socket), the new dump starts when that one ends.
     */
    public void requestDump() throws NativeException {
        if (dumpRunning) {
            dumpWanted = true;
            return;
        }
        request.fill((byte) 0);
        request.set(ValueLayout.JAVA_INT, 0, NLMSG_HDRLEN + IFINFOMSG_LEN);
        request.set(ValueLayout.JAVA_SHORT, 4, (short) RTM_GETLINK);
        request.set(ValueLayout.JAVA_SHORT, 6, (short) (NLM_F_REQUEST | NLM_F_DUMP));
        request.set(ValueLayout.JAVA_INT, 8, ++seq);
        // ifi_family AF_UNSPEC: every link.
        long r = LibC.sendtoOrErrno(fd, request, NLMSG_HDRLEN + IFINFOMSG_LEN, 0);
        if (r == -Errno.EBUSY) {
            dumpRunning = true; // a dump this socket started is still running
            dumpWanted = true;
            return;
        }
        if (r < 0) {
            throw new NativeException("sendto(RTM_GETLINK)", (int) -r);
        }
        dumpRunning = true;
        dumpWanted = false;
    }

    /**
     * Reads every message available now, handing each RTM_NEWLINK / RTM_DELLINK to handler; returns how many it
     * handed. ENOBUFS (the kernel dropped events) calls {@link Handler#overrun} once per call. A malformed message is
     * skipped and counted ({@link #malformed}), never thrown. Never blocks; allocates only the events (and their
     * names), nothing for an empty read.
     *
     * @throws NativeException only for a failure of the socket itself (EBADF and the like)
     */
    public int read(Handler handler) throws NativeException {
        int handled = 0;
        boolean overrun = false;
        while (true) {
            long n = LibC.recvOrErrno(fd, buffer, BUFFER_SIZE, MSG_TRUNC);
            if (n == -Errno.EAGAIN) {
                break;
            }
            if (n == -Errno.ENOBUFS) {
                OVERRUNS.setOpaque(this, overruns + 1);
                if (!overrun) {
                    overrun = true;
                    handler.overrun();
                }
                continue;
            }
            if (n < 0) {
                throw new NativeException("recv(NETLINK_ROUTE)", (int) -n);
            }
            if (n > BUFFER_SIZE) { // MSG_TRUNC: the datagram's real length; its tail is lost
                MALFORMED.setOpaque(this, malformed + 1);
                n = BUFFER_SIZE;
            }
            handled += parse(buffer, n, handler);
        }
        return handled;
    }

    /**
     * Parses one datagram of netlink messages at [0, length) of buf; returns the link events handed. Every length is
     * checked against what contains it: a message or attribute that does not fit is skipped and counted.
     */
    int parse(MemorySegment buf, long length, Handler handler) throws NativeException {
        int handled = 0;
        long off = 0;
        while (off + NLMSG_HDRLEN <= length) {
            long len = Integer.toUnsignedLong(buf.get(ValueLayout.JAVA_INT_UNALIGNED, off));
            int type = Short.toUnsignedInt(buf.get(ValueLayout.JAVA_SHORT_UNALIGNED, off + 4));
            if (len < NLMSG_HDRLEN || off + len > length) {
                MALFORMED.setOpaque(this, malformed + 1);
                break; // the rest of the datagram cannot be framed
            }
            switch (type) {
                case RTM_NEWLINK, RTM_DELLINK -> {
                    LinkEvent e = linkEvent(buf, off, len, type == RTM_DELLINK);
                    if (e == null) {
                        MALFORMED.setOpaque(this, malformed + 1);
                    } else {
                        handled++;
                        handler.onLink(e);
                    }
                }
                case NLMSG_DONE -> dumpEnded();
                case NLMSG_ERROR -> {
                    // An error answers our dump request (the only request we send); 0 would be an ack.
                    if (len >= NLMSG_HDRLEN + 4 && buf.get(ValueLayout.JAVA_INT_UNALIGNED, off + NLMSG_HDRLEN) != 0) {
                        dumpEnded();
                    }
                }
                default -> {
                    // NLMSG_NOOP, NLMSG_OVERRUN (never sent by Linux), other rtnetlink families: not ours
                }
            }
            off += align4(len);
        }
        return handled;
    }

    /** True while a dump asked for has not ended (NLMSG_DONE): the links it reports may not all be in yet. */
    public boolean dumping() {
        return dumpRunning || dumpWanted;
    }

    private void dumpEnded() throws NativeException {
        dumpRunning = false;
        if (dumpWanted && fd >= 0) {
            requestDump();
        }
    }

    /** The event in the message at off (len bytes), or null when it is malformed. */
    private static LinkEvent linkEvent(MemorySegment buf, long off, long len, boolean deleted) {
        if (len < NLMSG_HDRLEN + IFINFOMSG_LEN) {
            return null;
        }
        long ifi = off + NLMSG_HDRLEN;
        int ifindex = buf.get(ValueLayout.JAVA_INT_UNALIGNED, ifi + 4);
        int flags = buf.get(ValueLayout.JAVA_INT_UNALIGNED, ifi + 8);
        String name = null;
        int operState = LinkEvent.IF_OPER_UNKNOWN;
        int carrier = -1;
        long mac = -1;
        int mtu = 0;
        int link = -1;
        long end = off + len;
        long a = ifi + IFINFOMSG_LEN;
        while (a + RTA_HDRLEN <= end) {
            int rtaLen = Short.toUnsignedInt(buf.get(ValueLayout.JAVA_SHORT_UNALIGNED, a));
            int rtaType = Short.toUnsignedInt(buf.get(ValueLayout.JAVA_SHORT_UNALIGNED, a + 2)) & NLA_TYPE_MASK;
            if (rtaLen < RTA_HDRLEN || a + rtaLen > end) {
                return null;
            }
            long p = a + RTA_HDRLEN;
            int plen = rtaLen - RTA_HDRLEN;
            switch (rtaType) {
                case IFLA_IFNAME -> name = string(buf, p, plen);
                case IFLA_ADDRESS -> {
                    if (plen == 6) {
                        mac = Ifreq.mac(buf, p);
                    }
                }
                case IFLA_MTU -> mtu = plen >= 4 ? buf.get(ValueLayout.JAVA_INT_UNALIGNED, p) : mtu;
                case IFLA_LINK -> link = plen >= 4 ? buf.get(ValueLayout.JAVA_INT_UNALIGNED, p) : link;
                case IFLA_OPERSTATE -> operState = plen >= 1 ? buf.get(ValueLayout.JAVA_BYTE, p) & 0xff : operState;
                case IFLA_CARRIER -> carrier = plen >= 1 ? buf.get(ValueLayout.JAVA_BYTE, p) & 0xff : carrier;
                default -> {
                }
            }
            a += align4(rtaLen);
        }
        if (name == null || ifindex <= 0) {
            return null; // the kernel always names the link: a message without is not one we understand
        }
        return new LinkEvent(deleted, ifindex, name, flags, operState, carrier, mac, mtu, link);
    }

    /** A NUL-terminated string attribute (the NUL may be missing). */
    private static String string(MemorySegment buf, long p, int plen) {
        int n = 0;
        while (n < plen && buf.get(ValueLayout.JAVA_BYTE, p + n) != 0) {
            n++;
        }
        byte[] bytes = new byte[n];
        MemorySegment.copy(buf, ValueLayout.JAVA_BYTE, p, bytes, 0, n);
        return new String(bytes, StandardCharsets.UTF_8);
    }

    private static long align4(long len) {
        return (len + 3) & ~3L;
    }

    /** Messages or datagrams skipped because their lengths did not hold together. */
    public long malformed() {
        return (long) MALFORMED.getOpaque(this);
    }

    /** Times the kernel reported ENOBUFS (events lost). */
    public long overruns() {
        return (long) OVERRUNS.getOpaque(this);
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        LibC.closeQuietly(fd);
        arena.close();
    }
}

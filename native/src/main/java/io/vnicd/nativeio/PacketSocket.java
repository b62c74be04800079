package io.vnicd.nativeio;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * An AF_PACKET socket bound to one interface, with memory-mapped TPACKET_V3 rings: the RX ring hands the frames the
 * interface receives, the TX ring sends frames without a system call per frame ({@link #send} queues, {@link #flush}
 * kicks). Documentation/networking/packet_mmap.rst and net/packet/af_packet.c are the reference.
 *
 * <h2>Ownership</h2>
 * {@link #receive}, {@link #send}, {@link #flush}, {@link #txPending} and {@link #close} belong to one owner thread.
 * The counters may be read by any thread (opaque reads: each value is one the owner stored, not necessarily the
 * newest). {@link #pollKernelStats}, {@link #takeSocketError} and {@link #refreshMtu} may be called from any thread.
 * The ring lives in a shared arena: a thread touching a frame after {@link #close} gets an IllegalStateException,
 * never a crash.
 *
 * <h2>The mapping</h2>
 * One mapping holds both rings, RX first (the kernel's order, packet_mmap()):
 * <pre>
 *  0                               rxBlockCount * rxBlockSize             + txBlockCount * txBlockSize
 *  +-------+-------+-----+---------+----------------+-----+----------------+
 *  | blk 0 | blk 1 | ... | blk n-1 | TX block 0     | ... | TX block m-1    |
 *  +-------+-------+-----+---------+----------------+-----+----------------+
 *  RX: blocks the kernel fills with packets     TX: each block holds txBlockSize / txFrameSize slots,
 *  and retires (full, or after 1 ms)            slot i = block i / perBlock, frame i % perBlock
 * </pre>
 * The kernel strips the outer VLAN tag of a received frame into the packet header (TP_STATUS_VLAN_VALID, and the
 * TPID with TP_STATUS_VLAN_TPID_VALID: only 802.1Q and 802.1ad tags are stripped); {@link FrameHandler} hands it
 * as vlanTci.
 * <p>
 * An RX block (TPACKET_V3):
 * <pre>
 * struct tpacket_block_desc with struct tpacket_hdr_v1, 48 bytes
 *  0 version   4 offset_to_priv   8 block_status   12 num_pkts   16 offset_to_first_pkt   20 blk_len
 * 24 seq_num (u64)   32 ts_first_pkt {sec, nsec}   40 ts_last_pkt {sec, nsec}
 * block_status: TP_STATUS_KERNEL (0) while the kernel fills it; TP_STATUS_USER (1) once retired, until we store
 * TP_STATUS_KERNEL again. Packets follow at offset_to_first_pkt, each at the previous + tp_next_offset.
 * </pre>
 * A packet in an RX block, and a TX slot (the TX ring of a TPACKET_V3 socket uses the same header, one frame per
 * slot, tp_next_offset 0):
 * <pre>
 * struct tpacket3_hdr, 48 bytes (TPACKET_ALIGN(sizeof) = 48)            struct sockaddr_ll, 20 bytes, at 48
 *  0 tp_next_offset   4 tp_sec   8 tp_nsec   12 tp_snaplen   16 tp_len     48 sll_family (u16)  50 sll_protocol (be16)
 * 20 tp_status   24 tp_mac (u16)   26 tp_net (u16)                          52 sll_ifindex       56 sll_hatype (u16)
 * 28 hv1.tp_rxhash   32 hv1.tp_vlan_tci   36 hv1.tp_vlan_tpid (u16)         58 sll_pkttype (u8)  59 sll_halen (u8)
 * 38 hv1.tp_padding (u16)   40 tp_padding[8]                               60 sll_addr[8]
 * RX: the frame is at tp_mac, tp_snaplen bytes (tp_len on the wire).
 * TX: the frame is at TPACKET3_HDRLEN - sizeof(sockaddr_ll) = 48 (tpacket_parse_header()), tp_len bytes;
 *     tp_status TP_STATUS_AVAILABLE (0) = ours, SEND_REQUEST (1) = queued, SENDING (2) = the kernel's,
 *     WRONG_FORMAT (4) = refused, the kernel's ring head stops there (no PACKET_LOSS).
 * </pre>
 */
public final class PacketSocket implements NicSocket {
    /** Geometry and options. rxFrameSize only satisfies the kernel's checks: a V3 block holds packets of any size. */
    public record Options(int rxBlockSize, int rxBlockCount, int rxFrameSize, int txFrameSize, int txFrameCount,
                          boolean promiscuous, boolean qdiscBypass) {
        /** TX slot size for 9000-byte MTUs: 48 header bytes + 9018 (frame) + 4 (a tag we insert), rounded up. */
        public static final int JUMBO_TX_FRAME_SIZE = 9216;

        public Options {
            require(rxBlockSize > 0 && rxBlockSize % PAGE_SIZE == 0, "rxBlockSize must be a positive multiple of "
                    + PAGE_SIZE + ": " + rxBlockSize);
            require(rxBlockCount > 0, "rxBlockCount must be positive: " + rxBlockCount);
            require((long) rxBlockSize * rxBlockCount <= MAX_RING_BYTES, "the RX ring exceeds 1 GiB");
            require(rxFrameSize >= TPACKET3_HDRLEN && rxFrameSize % TPACKET_ALIGNMENT == 0 && rxFrameSize <= rxBlockSize,
                    "rxFrameSize must be a multiple of 16 between 68 and rxBlockSize: " + rxFrameSize);
            require(txFrameSize >= TX_DATA + ETH_HLEN + VLAN_HLEN && txFrameSize % TPACKET_ALIGNMENT == 0
                    && txFrameSize <= MAX_TX_FRAME_SIZE, "txFrameSize must be a multiple of 16 between 80 and "
                    + MAX_TX_FRAME_SIZE + ": " + txFrameSize);
            require(txFrameCount > 0 && (long) txFrameCount * txFrameSize <= MAX_RING_BYTES,
                    "txFrameCount must be positive and the TX ring at most 1 GiB: " + txFrameCount);
        }

        /**
         * RX: 64 blocks of 128 KiB (8 MiB; a partly filled block is retired after
         * {@value PacketSocket#RX_BLOCK_TIMEOUT_MS} ms as the kernel's timer rounds it: measured on 6.18 at HZ=250, a
         * lone frame arrives after ~1 ms, at worst ~5 to 8 ms); TX: 512 slots of 2048 bytes (frames up to 2000 bytes
         * with their tag; {@link #JUMBO_TX_FRAME_SIZE} for more). Neither promiscuous nor bypassing the qdisc.
         */
        public static Options defaults() {
            return new Options(128 << 10, 64, 2048, 2048, 512, false, false);
        }

        public Options withPromiscuous(boolean on) {
            return new Options(rxBlockSize, rxBlockCount, rxFrameSize, txFrameSize, txFrameCount, on, qdiscBypass);
        }

        public Options withQdiscBypass(boolean on) {
            return new Options(rxBlockSize, rxBlockCount, rxFrameSize, txFrameSize, txFrameCount, promiscuous, on);
        }

        public Options withTxFrames(int frameSize, int frameCount) {
            return new Options(rxBlockSize, rxBlockCount, rxFrameSize, frameSize, frameCount, promiscuous, qdiscBypass);
        }

        private static void require(boolean ok, String message) {
            if (!ok) {
                throw new IllegalArgumentException(message);
            }
        }
    }

    static final int PAGE_SIZE = 4096;
    private static final long MAX_RING_BYTES = 1L << 30;
    private static final int MAX_TX_FRAME_SIZE = 1 << 20;
    /**
     * How long (ms) the kernel may leave a partly filled RX block before retiring it (tp_retire_blk_tov): how long a
     * lone frame can wait. Short on purpose: the uplink's latency, not its batching, is what guests notice.
     */
    public static final int RX_BLOCK_TIMEOUT_MS = 1;
    private static final int MIN_TX_BLOCK_SIZE = 64 << 10;

    // linux/socket.h, linux/if_ether.h, linux/if_packet.h
    private static final int AF_PACKET = 17;
    private static final int SOCK_RAW = 3;
    private static final int SOCK_NONBLOCK = 0x800;
    private static final int SOCK_CLOEXEC = 0x80000;
    private static final short ETH_P_ALL_BE = (short) 0x0300; // htons(ETH_P_ALL = 0x0003)
    private static final int SOL_SOCKET = 1;
    private static final int SO_ERROR = 4;
    private static final int SO_SNDBUF = 7;
    private static final int SO_SNDBUFFORCE = 32;
    private static final int SOL_PACKET = 263;
    private static final int PACKET_ADD_MEMBERSHIP = 1;
    private static final int PACKET_DROP_MEMBERSHIP = 2;
    private static final int PACKET_RX_RING = 5;
    private static final int PACKET_STATISTICS = 6;
    private static final int PACKET_VERSION = 10;
    private static final int PACKET_TX_RING = 13;
    private static final int PACKET_QDISC_BYPASS = 20;
    private static final int PACKET_IGNORE_OUTGOING = 23;
    private static final int TPACKET_V3 = 2;
    private static final int PACKET_MR_MULTICAST = 0;
    private static final int PACKET_MR_PROMISC = 1;
    private static final int PACKET_MR_UNICAST = 3;
    private static final int PACKET_OUTGOING = 4;
    private static final int MSG_DONTWAIT = 0x40;

    private static final int TP_STATUS_KERNEL = 0;
    private static final int TP_STATUS_USER = 1;
    private static final int TP_STATUS_CSUMNOTREADY = 1 << 3;
    private static final int TP_STATUS_VLAN_VALID = 1 << 4;
    private static final int TP_STATUS_VLAN_TPID_VALID = 1 << 6;
    private static final int TP_STATUS_AVAILABLE = 0;
    private static final int TP_STATUS_SEND_REQUEST = 1;
    private static final int TP_STATUS_WRONG_FORMAT = 1 << 2;
    /** Timestamp bits the kernel may OR into a TX slot's status when it gives the slot back. */
    private static final int TP_STATUS_TS_MASK = (1 << 29) | (1 << 30) | (1 << 31);

    private static final int TPACKET_ALIGNMENT = 16;
    private static final int TPACKET3_HDRLEN = 68; // TPACKET_ALIGN(sizeof(struct tpacket3_hdr)) + sizeof(sockaddr_ll)
    private static final int ETH_HLEN = 14;
    private static final int VLAN_HLEN = 4;
    private static final int ETH_P_8021Q = 0x8100;
    private static final int ETH_P_8021AD = 0x88a8;

    // struct tpacket_block_desc / tpacket_hdr_v1
    private static final long BLOCK_STATUS = 8;
    private static final long BLOCK_NUM_PKTS = 12;
    private static final long BLOCK_FIRST_PKT = 16;
    // struct tpacket3_hdr
    private static final long TP_NEXT_OFFSET = 0;
    private static final long TP_SNAPLEN = 12;
    private static final long TP_LEN = 16;
    private static final long TP_STATUS = 20;
    private static final long TP_MAC = 24;
    private static final long TP_VLAN_TCI = 32;
    private static final long TP_VLAN_TPID = 36;
    private static final long SLL_PKTTYPE = 48 + 10;
    /** TX frame data offset: TPACKET3_HDRLEN - sizeof(struct sockaddr_ll). */
    private static final int TX_DATA = 48;

    /**
     * struct tpacket_req3, 28 bytes: 0 tp_block_size, 4 tp_block_nr, 8 tp_frame_size, 12 tp_frame_nr,
     * 16 tp_retire_blk_tov (ms), 20 tp_sizeof_priv, 24 tp_feature_req_word.
     */
    private static final long REQ3_SIZE = 28;
    /** struct packet_mreq, 16 bytes: 0 mr_ifindex, 4 mr_type (u16), 6 mr_alen (u16), 8 mr_address[8]. */
    private static final long MREQ_SIZE = 16;
    /** struct sockaddr_ll, 20 bytes (layout above). */
    private static final long SOCKADDR_LL_SIZE = 20;
    /** struct tpacket_stats_v3, 12 bytes: tp_packets, tp_drops, tp_freeze_q_cnt. */
    private static final long STATS_V3_SIZE = 12;

    private static final VarHandle INT = ValueLayout.JAVA_INT.varHandle();
    private static final ValueLayout.OfShort BE_SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    private final int fd;
    private final String ifname;
    private final int ifindex;
    private final Arena arena;
    private final MemorySegment ring;
    private final MemorySegment readOnlyRing;
    private final long rxBlockSize;
    private final int rxBlockCount;
    private final long[] txSlot;
    private final int txMaxFrame;
    private final boolean kernelIgnoresOutgoing;
    private final MemorySegment ifreq;
    private final MemorySegment statsBuf;
    private final MemorySegment intBuf;
    private final MemorySegment mreq;
    private volatile int mtu;
    private boolean closed;

    // RX position (owner thread): the block being walked, its next packet, how many packets are left in it.
    private int rxBlock;
    private boolean rxInBlock;
    private long rxPkt;
    private int rxLeft;

    // TX ring (owner thread): slots [txOldest, +txInFlight) are the kernel's, [txFirstQueued, +txQueued) are queued
    // (SEND_REQUEST; the kernel's ring head is txFirstQueued), txNext = txFirstQueued + txQueued is the next to fill.
    private int txOldest;
    private int txInFlight;
    private int txFirstQueued;
    private int txQueued;
    private int txNext;

    // Counters: written by the owner with opaque stores, read by anyone with opaque loads.
    private long rxFrames;
    private long rxBytes;
    private long rxTruncated;
    private long rxChecksumPartial;
    private long rxMalformed;
    private long rxKernelDrops;
    private long rxKernelFreezes;
    private long txFrames;
    private long txBytes;
    private long txRingFull;
    private long txTooBig;
    private long txErrors;
    private long txKernelBusy;
    private int lastTxErrno;

    private static final VarHandle RX_FRAMES = counter("rxFrames", long.class);
    private static final VarHandle RX_BYTES = counter("rxBytes", long.class);
    private static final VarHandle RX_TRUNCATED = counter("rxTruncated", long.class);
    private static final VarHandle RX_CSUM_PARTIAL = counter("rxChecksumPartial", long.class);
    private static final VarHandle RX_MALFORMED = counter("rxMalformed", long.class);
    private static final VarHandle RX_KERNEL_DROPS = counter("rxKernelDrops", long.class);
    private static final VarHandle RX_KERNEL_FREEZES = counter("rxKernelFreezes", long.class);
    private static final VarHandle TX_FRAMES = counter("txFrames", long.class);
    private static final VarHandle TX_BYTES = counter("txBytes", long.class);
    private static final VarHandle TX_RING_FULL = counter("txRingFull", long.class);
    private static final VarHandle TX_TOO_BIG = counter("txTooBig", long.class);
    private static final VarHandle TX_ERRORS = counter("txErrors", long.class);
    private static final VarHandle TX_KERNEL_BUSY = counter("txKernelBusy", long.class);
    private static final VarHandle LAST_TX_ERRNO = counter("lastTxErrno", int.class);

    private static VarHandle counter(String name, Class<?> type) {
        try {
            return MethodHandles.lookup().findVarHandle(PacketSocket.class, name, type);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private PacketSocket(int fd, String ifname, int ifindex, Arena arena, MemorySegment ring, Options o,
                         long txBase, int txBlockSize, int txSlots, boolean kernelIgnoresOutgoing) {
        this.fd = fd;
        this.ifname = ifname;
        this.ifindex = ifindex;
        this.arena = arena;
        this.ring = ring;
        this.readOnlyRing = ring.asReadOnly();
        this.rxBlockSize = o.rxBlockSize();
        this.rxBlockCount = o.rxBlockCount();
        this.txMaxFrame = o.txFrameSize() - TX_DATA;
        this.kernelIgnoresOutgoing = kernelIgnoresOutgoing;
        int perBlock = txBlockSize / o.txFrameSize();
        this.txSlot = new long[txSlots];
        for (int i = 0; i < txSlots; i++) {
            txSlot[i] = txBase + (long) (i / perBlock) * txBlockSize + (long) (i % perBlock) * o.txFrameSize();
        }
        this.ifreq = arena.allocate(Ifreq.SIZE, 8);
        this.statsBuf = arena.allocate(STATS_V3_SIZE, 4);
        this.intBuf = arena.allocate(4, 4);
        this.mreq = arena.allocate(MREQ_SIZE, 4);
    }

    /**
     * Opens SOCK_RAW (non-blocking, close-on-exec), TPACKET_V3, an RX ring of TPACKET_V3 blocks and a TX ring mapped
     * as one, PACKET_QDISC_BYPASS when asked, PACKET_IGNORE_OUTGOING (frames sent on the interface, by us or anyone,
     * are not received back), bound to ifname with ETH_P_ALL, promiscuous (PACKET_MR_PROMISC, dropped when the socket
     * closes) when asked. The socket is bound only after the rings exist, so no frame of another interface is ever
     * queued to it.
     */
    public static PacketSocket open(String ifname, Options options) throws NativeException {
        int ifindex = LibC.ifNameToIndex(ifname);
        int fd = LibC.socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        Arena arena = null;
        try (Arena temp = Arena.ofConfined()) {
            setInt(fd, SOL_PACKET, PACKET_VERSION, TPACKET_V3, "PACKET_VERSION", temp);
            boolean ignoresOutgoing = true;
            try {
                setInt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, 1, "PACKET_IGNORE_OUTGOING", temp);
            } catch (NativeException e) {
                if (e.errno() != Errno.ENOPROTOOPT) {
                    throw e;
                }
                ignoresOutgoing = false; // before Linux 4.20: receive() skips PACKET_OUTGOING frames itself
            }
            if (options.qdiscBypass()) {
                setInt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, 1, "PACKET_QDISC_BYPASS", temp);
            }

            int rxFramesPerBlock = options.rxBlockSize() / options.rxFrameSize();
            MemorySegment req = temp.allocate(REQ3_SIZE, 4);
            req.set(ValueLayout.JAVA_INT, 0, options.rxBlockSize());
            req.set(ValueLayout.JAVA_INT, 4, options.rxBlockCount());
            req.set(ValueLayout.JAVA_INT, 8, options.rxFrameSize());
            req.set(ValueLayout.JAVA_INT, 12, rxFramesPerBlock * options.rxBlockCount());
            req.set(ValueLayout.JAVA_INT, 16, RX_BLOCK_TIMEOUT_MS);
            setsockopt(fd, PACKET_RX_RING, req, "PACKET_RX_RING");

            // The kernel allocates each block as 2^order pages: power-of-two blocks waste nothing.
            int txBlockSize = Math.max(MIN_TX_BLOCK_SIZE, Integer.highestOneBit(options.txFrameSize() - 1) << 1);
            int txPerBlock = txBlockSize / options.txFrameSize();
            int txBlocks = (options.txFrameCount() + txPerBlock - 1) / txPerBlock;
            int txSlots = txBlocks * txPerBlock;
            req.fill((byte) 0); // a V3 TX ring must leave retire_blk_tov, sizeof_priv and feature_req_word 0
            req.set(ValueLayout.JAVA_INT, 0, txBlockSize);
            req.set(ValueLayout.JAVA_INT, 4, txBlocks);
            req.set(ValueLayout.JAVA_INT, 8, options.txFrameSize());
            req.set(ValueLayout.JAVA_INT, 12, txSlots);
            setsockopt(fd, PACKET_TX_RING, req, "PACKET_TX_RING");

            // Enough send buffer for every slot in flight at once (the kernel charges each frame's length + skb).
            int sndbuf = (int) Math.min(Integer.MAX_VALUE / 2, (long) txSlots * (options.txFrameSize() + 1024));
            try {
                setInt(fd, SOL_SOCKET, SO_SNDBUFFORCE, sndbuf, "SO_SNDBUFFORCE", temp);
            } catch (NativeException e) {
                setInt(fd, SOL_SOCKET, SO_SNDBUF, sndbuf, "SO_SNDBUF", temp); // without CAP_NET_ADMIN: capped at wmem_max
            }

            long rxBytes = (long) options.rxBlockSize() * options.rxBlockCount();
            long size = rxBytes + (long) txBlockSize * txBlocks;
            arena = Arena.ofShared();
            MemorySegment ring = LibC.mmap(size, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, fd, 0, arena);

            MemorySegment sll = temp.allocate(SOCKADDR_LL_SIZE, 4);
            sll.set(ValueLayout.JAVA_SHORT, 0, (short) AF_PACKET);
            sll.set(ValueLayout.JAVA_SHORT, 2, ETH_P_ALL_BE);
            sll.set(ValueLayout.JAVA_INT, 4, ifindex);
            LibC.bind(fd, sll, (int) SOCKADDR_LL_SIZE);

            PacketSocket socket = new PacketSocket(fd, ifname, ifindex, arena, ring, options, rxBytes, txBlockSize, txSlots,
                    ignoresOutgoing);
            // Bound while the interface is down, the socket reports ENETDOWN once; the hook comes back with IFF_UP.
            socket.takeSocketError();
            socket.mtu = socket.readMtu();
            if (options.promiscuous()) {
                socket.membership(PACKET_ADD_MEMBERSHIP, PACKET_MR_PROMISC, 0, "PACKET_ADD_MEMBERSHIP(PROMISC)");
            }
            return socket;
        } catch (NativeException | RuntimeException e) {
            if (arena != null) {
                arena.close();
            }
            LibC.closeQuietly(fd);
            if (e instanceof NativeException n && n.errno() != 0) {
                throw new NativeException(n.call() + " (packet socket on " + ifname + ")", n.errno());
            }
            throw e;
        }
    }

    private static void setInt(int fd, int level, int name, int value, String what, Arena temp) throws NativeException {
        MemorySegment v = temp.allocate(ValueLayout.JAVA_INT);
        v.set(ValueLayout.JAVA_INT, 0, value);
        try {
            LibC.setsockopt(fd, level, name, v);
        } catch (NativeException e) {
            throw new NativeException("setsockopt(" + what + ")", e.errno());
        }
    }

    private static void setsockopt(int fd, int name, MemorySegment value, String what) throws NativeException {
        try {
            LibC.setsockopt(fd, SOL_PACKET, name, value);
        } catch (NativeException e) {
            throw new NativeException("setsockopt(" + what + ")", e.errno());
        }
    }

    /** For epoll: readable while a retired RX block waits (level-triggered until {@link #receive} gives it back). */
    @Override
    public int fd() {
        return fd;
    }

    @Override
    public int ifindex() {
        return ifindex;
    }

    @Override
    public String ifname() {
        return ifname;
    }

    @Override
    public String transport() {
        return "af_packet";
    }

    /** Adds a unicast or multicast MAC (low 48 bits, first octet most significant) as a membership of the interface. */
    public void addMembership(long mac) throws NativeException {
        membership(PACKET_ADD_MEMBERSHIP, macType(mac), mac, "PACKET_ADD_MEMBERSHIP");
    }

    /** Drops a membership {@link #addMembership} added. */
    public void dropMembership(long mac) throws NativeException {
        membership(PACKET_DROP_MEMBERSHIP, macType(mac), mac, "PACKET_DROP_MEMBERSHIP");
    }

    private static int macType(long mac) {
        // The group bit is the least significant bit of the first octet (IEEE 802).
        return ((mac >>> 40) & 1) != 0 ? PACKET_MR_MULTICAST : PACKET_MR_UNICAST;
    }

    private synchronized void membership(int op, int type, long mac, String what) throws NativeException {
        mreq.fill((byte) 0);
        mreq.set(ValueLayout.JAVA_INT, 0, ifindex);
        mreq.set(ValueLayout.JAVA_SHORT, 4, (short) type);
        if (type != PACKET_MR_PROMISC) {
            mreq.set(ValueLayout.JAVA_SHORT, 6, (short) 6);
            for (int i = 0; i < 6; i++) {
                mreq.set(ValueLayout.JAVA_BYTE, 8 + i, (byte) (mac >>> (40 - 8 * i)));
            }
        }
        setsockopt(fd, op, mreq, what);
    }

    /**
     * Hands up to budget received frames to handler, in order; returns how many. Non-blocking: 0 when no block is
     * ready. A block goes back to the kernel as soon as its last frame was handed; when the budget ends inside a block,
     * the next call resumes there, as it does at a frame the handler did not take. Frames truncated by the kernel
     * (larger than a block) are counted, not handed. A handler that throws loses only its frame. Never allocates.
     */
    @Override
    public int receive(FrameHandler handler, int budget) {
        MemorySegment ring = this.ring;
        int handed = 0;
        long bytes = 0;
        try {
            while (handed < budget) {
                if (!rxInBlock) {
                    long block = rxBlock * rxBlockSize;
                    if (((int) INT.getAcquire(ring, block + BLOCK_STATUS) & TP_STATUS_USER) == 0) {
                        break;
                    }
                    rxInBlock = true;
                    rxLeft = ring.get(ValueLayout.JAVA_INT, block + BLOCK_NUM_PKTS);
                    rxPkt = block + Integer.toUnsignedLong(ring.get(ValueLayout.JAVA_INT, block + BLOCK_FIRST_PKT));
                }
                if (rxLeft <= 0) {
                    releaseBlock();
                    continue;
                }
                long pkt = rxPkt;
                long blockEnd = (rxBlock + 1) * rxBlockSize;
                if (pkt + TPACKET3_HDRLEN > blockEnd) {
                    malformedBlock();
                    continue;
                }
                int status = ring.get(ValueLayout.JAVA_INT, pkt + TP_STATUS);
                int snaplen = ring.get(ValueLayout.JAVA_INT, pkt + TP_SNAPLEN);
                int len = ring.get(ValueLayout.JAVA_INT, pkt + TP_LEN);
                long frame = pkt + Short.toUnsignedLong(ring.get(ValueLayout.JAVA_SHORT, pkt + TP_MAC));
                if (snaplen < 0 || frame + snaplen > blockEnd) {
                    malformedBlock();
                    continue;
                }
                long next = pkt + Integer.toUnsignedLong(ring.get(ValueLayout.JAVA_INT, pkt + TP_NEXT_OFFSET));
                rxPkt = next;
                rxLeft--;
                if (!kernelIgnoresOutgoing && ring.get(ValueLayout.JAVA_BYTE, pkt + SLL_PKTTYPE) == PACKET_OUTGOING) {
                    continue;
                }
                if (snaplen < len) {
                    RX_TRUNCATED.setOpaque(this, rxTruncated + 1);
                    continue;
                }
                boolean partial = (status & TP_STATUS_CSUMNOTREADY) != 0;
                int vlan = -1;
                if ((status & TP_STATUS_VLAN_VALID) != 0) {
                    vlan = ring.get(ValueLayout.JAVA_INT, pkt + TP_VLAN_TCI) & 0xffff;
                    int tpid = (status & TP_STATUS_VLAN_TPID_VALID) != 0
                            ? Short.toUnsignedInt(ring.get(ValueLayout.JAVA_SHORT, pkt + TP_VLAN_TPID)) : ETH_P_8021Q;
                    if (tpid == ETH_P_8021AD) {
                        vlan |= VLAN_8021AD;
                    }
                }
                if (!handler.onFrame(readOnlyRing, frame, snaplen, vlan, partial)) {
                    // kept: the same frame is the first of the next call (a handler that throws loses it)
                    rxPkt = pkt;
                    rxLeft++;
                    break;
                }
                if (partial) {
                    RX_CSUM_PARTIAL.setOpaque(this, rxChecksumPartial + 1);
                }
                handed++;
                bytes += snaplen;
            }
            if (rxInBlock && rxLeft <= 0) {
                releaseBlock();
            }
        } finally {
            if (handed > 0) {
                RX_FRAMES.setOpaque(this, rxFrames + handed);
                RX_BYTES.setOpaque(this, rxBytes + bytes);
            }
        }
        return handed;
    }

    /** Gives the current block back to the kernel (release: our reads of it happen before the kernel refills it). */
    private void releaseBlock() {
        INT.setRelease(ring, rxBlock * rxBlockSize + BLOCK_STATUS, TP_STATUS_KERNEL);
        rxInBlock = false;
        rxBlock = rxBlock + 1 == rxBlockCount ? 0 : rxBlock + 1;
    }

    private void malformedBlock() {
        RX_MALFORMED.setOpaque(this, rxMalformed + 1);
        releaseBlock();
    }

    /**
     * Copies the frame into the next free TX slot, inserting an 802.1Q tag (TPID 0x8100, TCI vlanTci & 0xffff; TPID
     * 0x88a8 when {@link #VLAN_8021AD} is set, see {@link FrameHandler}) after the source MAC when vlanTci >= 0.
     * Does not kick the kernel ({@link #flush} does). Returns false, counting each reason apart, when every slot is
     * still the kernel's ({@link #txRingFull}), when the frame (with its tag) does not fit a slot or exceeds the MTU
     * ({@link #txTooBig}; never truncated), or when it is shorter than an Ethernet header ({@link #txErrors}, EINVAL).
     * Never blocks, never allocates.
     */
    @Override
    public boolean send(MemorySegment segment, long offset, int length, int vlanTci) {
        int tag = vlanTci >= 0 ? VLAN_HLEN : 0;
        int wire = length + tag;
        if (length < ETH_HLEN) {
            TX_ERRORS.setOpaque(this, txErrors + 1);
            LAST_TX_ERRNO.setOpaque(this, Errno.EINVAL);
            return false;
        }
        int tpid = tag != 0 ? tagTpid(vlanTci) : Short.toUnsignedInt(segment.get(BE_SHORT, offset + 12));
        if (wire > txMaxFrame || wire > mtuLimit(tpid)) {
            TX_TOO_BIG.setOpaque(this, txTooBig + 1);
            return false;
        }
        if (txQueued + txInFlight == txSlot.length) {
            reclaim();
            if (txQueued + txInFlight == txSlot.length) {
                TX_RING_FULL.setOpaque(this, txRingFull + 1);
                return false;
            }
        }
        MemorySegment ring = this.ring;
        long slot = txSlot[txNext];
        long data = slot + TX_DATA;
        if (tag == 0) {
            MemorySegment.copy(segment, offset, ring, data, length);
        } else {
            MemorySegment.copy(segment, offset, ring, data, 12);
            ring.set(BE_SHORT, data + 12, (short) tpid);
            ring.set(BE_SHORT, data + 14, (short) vlanTci);
            MemorySegment.copy(segment, offset + 12, ring, data + 16, length - 12);
        }
        ring.set(ValueLayout.JAVA_INT, slot + TP_NEXT_OFFSET, 0);
        ring.set(ValueLayout.JAVA_INT, slot + TP_LEN, wire);
        // Release: the frame and its length are written before the kernel may see SEND_REQUEST.
        INT.setRelease(ring, slot + TP_STATUS, TP_STATUS_SEND_REQUEST);
        txNext = nextSlot(txNext);
        txQueued++;
        return true;
    }

    private static int tagTpid(int vlanTci) {
        return (vlanTci & VLAN_8021AD) != 0 ? ETH_P_8021AD : ETH_P_8021Q;
    }

    /** The longest frame the kernel takes: MTU + Ethernet header, + 4 when the frame's outer TPID is 802.1Q. */
    private int mtuLimit(int outerType) {
        return mtu + ETH_HLEN + (outerType == ETH_P_8021Q ? VLAN_HLEN : 0);
    }

    private int nextSlot(int slot) {
        return slot + 1 == txSlot.length ? 0 : slot + 1;
    }

    private int txStatus(int slot) {
        return (int) INT.getAcquire(ring, txSlot[slot] + TP_STATUS) & ~TP_STATUS_TS_MASK;
    }

    /**
     * Kicks the kernel to transmit the slots queued since the last flush ({@code sendto(fd, NULL, 0, MSG_DONTWAIT)});
     * returns how many frames it took. The kernel processes the ring only inside this call, on this thread.
     * <ul>
     * <li>EAGAIN / ENOBUFS (send buffer or device queue full): not an error; what it did not take stays queued for
     * the next flush, counted once in {@link #txKernelBusy}.</li>
     * <li>A slot the kernel refused (TP_STATUS_WRONG_FORMAT: e.g. longer than an MTU lowered since open) stops its
     * ring; the slot is dropped, the frames behind it move up one slot, and the kick is repeated. Each refused frame
     * is counted in {@link #txErrors} with its errno in {@link #lastTxErrno}.</li>
     * <li>A hard error (ENXIO: interface gone; ENETDOWN: interface down): the queued frames are dropped, each counted
     * in {@link #txErrors}, {@link #lastTxErrno} tells why. Sending to a dead link is never retried.</li>
     * </ul>
     * Also takes back the slots the kernel finished with. Never allocates.
     */
    @Override
    public int flush() {
        int handed = 0;
        while (txQueued > 0) {
            long r = LibC.sendtoOrErrno(fd, MemorySegment.NULL, 0, MSG_DONTWAIT);
            handed += takeHanded();
            if (txQueued == 0) {
                break;
            }
            int errno = r < 0 ? (int) -r : 0;
            if (txStatus(txFirstQueued) == TP_STATUS_WRONG_FORMAT) {
                dropRefused(errno != 0 ? errno : Errno.EINVAL);
                continue;
            }
            if (errno == 0 || errno == Errno.EAGAIN || errno == Errno.ENOBUFS) {
                TX_KERNEL_BUSY.setOpaque(this, txKernelBusy + 1);
            } else {
                dropQueued(errno);
            }
            break;
        }
        reclaim();
        return handed;
    }

    /** Moves the queued slots the kernel took (a prefix, in ring order) to in flight, counting them sent. */
    private int takeHanded() {
        int taken = 0;
        long bytes = 0;
        int slot = txFirstQueued;
        while (taken < txQueued) {
            int status = txStatus(slot);
            if (status == TP_STATUS_SEND_REQUEST || status == TP_STATUS_WRONG_FORMAT) {
                break;
            }
            bytes += ring.get(ValueLayout.JAVA_INT, txSlot[slot] + TP_LEN);
            taken++;
            slot = nextSlot(slot);
        }
        if (taken > 0) {
            txFirstQueued = slot;
            txQueued -= taken;
            txInFlight += taken;
            TX_FRAMES.setOpaque(this, txFrames + taken);
            TX_BYTES.setOpaque(this, txBytes + bytes);
        }
        return taken;
    }

    /**
     * The kernel refused the slot at its ring head (txFirstQueued) and will not move past it. Drops it, and with it any
     * queued frame the refreshed MTU no longer admits, moving the rest up so the queue stays contiguous from the head.
     * Safe without the kernel's cooperation: it reads the TX ring only inside sendto, on this thread.
     */
    private void dropRefused(int errno) {
        if (errno == Errno.EMSGSIZE) {
            mtu = readMtu();
        }
        int dst = txFirstQueued;
        int src = nextSlot(dst);
        int dropped = 1;
        for (int i = 1; i < txQueued; i++, src = nextSlot(src)) {
            long from = txSlot[src];
            int len = ring.get(ValueLayout.JAVA_INT, from + TP_LEN);
            if (len > mtuLimit(Short.toUnsignedInt(ring.get(BE_SHORT, from + TX_DATA + 12)))) {
                dropped++;
                continue;
            }
            long to = txSlot[dst];
            MemorySegment.copy(ring, from + TX_DATA, ring, to + TX_DATA, len);
            ring.set(ValueLayout.JAVA_INT, to + TP_LEN, len);
            INT.setRelease(ring, to + TP_STATUS, TP_STATUS_SEND_REQUEST);
            dst = nextSlot(dst);
        }
        for (int i = 0; i < dropped; i++, dst = nextSlot(dst)) {
            INT.setRelease(ring, txSlot[dst] + TP_STATUS, TP_STATUS_AVAILABLE);
        }
        txQueued -= dropped;
        txNext = prevSlots(txNext, dropped);
        TX_ERRORS.setOpaque(this, txErrors + dropped);
        LAST_TX_ERRNO.setOpaque(this, errno);
    }

    /** The interface is gone or down: the queued frames will not go out, they are dropped and counted. */
    private void dropQueued(int errno) {
        int slot = txFirstQueued;
        for (int i = 0; i < txQueued; i++, slot = nextSlot(slot)) {
            INT.setRelease(ring, txSlot[slot] + TP_STATUS, TP_STATUS_AVAILABLE);
        }
        TX_ERRORS.setOpaque(this, txErrors + txQueued);
        LAST_TX_ERRNO.setOpaque(this, errno);
        txNext = txFirstQueued;
        txQueued = 0;
    }

    private int prevSlots(int slot, int n) {
        int s = slot - n;
        return s < 0 ? s + txSlot.length : s;
    }

    /** Takes back, oldest first, the slots the kernel finished with (TP_STATUS_AVAILABLE again). */
    private void reclaim() {
        while (txInFlight > 0 && txStatus(txOldest) == TP_STATUS_AVAILABLE) {
            txOldest = nextSlot(txOldest);
            txInFlight--;
        }
    }

    /** True while frames wait in the TX ring that the kernel has not taken yet (owner thread). */
    @Override
    public boolean txPending() {
        return txQueued > 0;
    }

    /** How many frames the TX ring holds (txFrameCount rounded up to whole blocks). */
    public int txSlots() {
        return txSlot.length;
    }

    /**
     * Reads and accumulates the kernel's RX statistics (PACKET_STATISTICS, struct tpacket_stats_v3), which reading
     * resets: call it periodically. Returns the frames the kernel dropped since the previous call (RX ring full).
     */
    @Override
    public synchronized long pollKernelStats() throws NativeException {
        LibC.getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, statsBuf);
        long drops = Integer.toUnsignedLong(statsBuf.get(ValueLayout.JAVA_INT, 4));
        long freezes = Integer.toUnsignedLong(statsBuf.get(ValueLayout.JAVA_INT, 8));
        RX_KERNEL_DROPS.setOpaque(this, rxKernelDrops + drops);
        RX_KERNEL_FREEZES.setOpaque(this, rxKernelFreezes + freezes);
        return drops;
    }

    /**
     * Reads and clears the socket's pending error (SO_ERROR): 0, or e.g. ENETDOWN after the interface went down or
     * away. A pending error keeps the descriptor reporting EPOLLERR, so an owner woken with EPOLLERR calls this.
     */
    @Override
    public synchronized int takeSocketError() throws NativeException {
        LibC.getsockopt(fd, SOL_SOCKET, SO_ERROR, intBuf);
        return intBuf.get(ValueLayout.JAVA_INT, 0);
    }

    /** The MTU {@link #send} holds frames to (read at open, and again when the kernel refuses a frame as too long). */
    public int mtu() {
        return mtu;
    }

    /** Reads the interface's MTU again (after RtNetlink reported a change); returns it. */
    public int refreshMtu() {
        mtu = readMtu();
        return mtu;
    }

    private synchronized int readMtu() {
        Ifreq.putName(ifreq, ifname);
        int r = LibC.ioctlOrErrno(fd, Ifreq.SIOCGIFMTU, ifreq);
        // An interface already gone keeps the last known MTU (or the slot size): its sends fail with ENXIO anyway.
        return r < 0 ? (mtu > 0 ? mtu : txMaxFrame) : ifreq.get(ValueLayout.JAVA_INT, Ifreq.UNION);
    }

    @Override
    public long rxFrames() {
        return (long) RX_FRAMES.getOpaque(this);
    }

    @Override
    public long rxBytes() {
        return (long) RX_BYTES.getOpaque(this);
    }

    /** Frames the kernel dropped because the RX ring was full (accumulated by {@link #pollKernelStats}). */
    @Override
    public long rxKernelDrops() {
        return (long) RX_KERNEL_DROPS.getOpaque(this);
    }

    /** Times the kernel found the RX ring full and froze it (accumulated by {@link #pollKernelStats}). */
    public long rxKernelFreezes() {
        return (long) RX_KERNEL_FREEZES.getOpaque(this);
    }

    /** Frames larger than an RX block, which the kernel truncated: counted, never handed. */
    public long rxTruncated() {
        return (long) RX_TRUNCATED.getOpaque(this);
    }

    /**
     * Frames handed whose checksum the kernel has not filled in yet (TP_STATUS_CSUMNOTREADY: sent locally with
     * checksum offload, e.g. by a stack behind a veth peer). Their L4 checksum field is not valid on the wire.
     */
    public long rxChecksumPartial() {
        return (long) RX_CSUM_PARTIAL.getOpaque(this);
    }

    /** RX blocks abandoned because a packet header pointed outside its block (never expected from the kernel). */
    public long rxMalformed() {
        return (long) RX_MALFORMED.getOpaque(this);
    }

    @Override
    public long txFrames() {
        return (long) TX_FRAMES.getOpaque(this);
    }

    @Override
    public long txBytes() {
        return (long) TX_BYTES.getOpaque(this);
    }

    @Override
    public long txRingFull() {
        return (long) TX_RING_FULL.getOpaque(this);
    }

    @Override
    public long txTooBig() {
        return (long) TX_TOO_BIG.getOpaque(this);
    }

    @Override
    public long txErrors() {
        return (long) TX_ERRORS.getOpaque(this);
    }

    /** Flushes that left frames queued because the kernel had no room (EAGAIN, ENOBUFS). */
    public long txKernelBusy() {
        return (long) TX_KERNEL_BUSY.getOpaque(this);
    }

    /** The errno of the last frame counted in {@link #txErrors}, 0 before any. */
    @Override
    public int lastTxErrno() {
        return (int) LAST_TX_ERRNO.getOpaque(this);
    }

    /** Unmaps the rings and closes the socket; idempotent. Frames still queued are dropped. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            arena.close();
        } finally {
            LibC.closeQuietly(fd);
        }
    }

    @Override
    public String toString() {
        return "packet socket " + fd + " on " + ifname + " (ifindex " + ifindex + ")";
    }
}

package io.vnicd.nativeio;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/**
 * An AF_XDP socket on one receive queue of an interface, with its UMEM (the frames' memory, shared with the kernel)
 * and four rings, and the XDP program ({@link XdpProgram}) that redirects the queue's frames to it. The kernel's
 * Documentation/networking/af_xdp.rst, include/uapi/linux/if_xdp.h and net/xdp/xsk.c are the reference.
 *
 * <h2>Ownership</h2>
 * As {@link NicSocket} says: {@link #receive}, {@link #send}, {@link #flush}, {@link #txPending} and {@link #close}
 * belong to one owner thread; counters are read by anyone; {@link #pollKernelStats} and {@link #refreshMtu} from any
 * thread. The UMEM and the rings live in a shared arena: touching a frame after {@link #close} raises an
 * IllegalStateException, never a crash.
 *
 * <h2>The UMEM</h2>
 * <pre>
 *  0                               rxFrames * frameSize                 (rxFrames + txFrames) * frameSize
 *  +--------+--------+-----+-------+--------+--------+-----+------------+
 *  | rx 0   | rx 1   | ... |       | tx 0   | tx 1   | ... |            |
 *  +--------+--------+-----+-------+--------+--------+-----+------------+
 *  RX frames circulate: fill ring -> kernel   TX frames circulate: free list -> send() -> TX ring ->
 *  -> RX ring -> receive() -> fill ring       kernel -> completion ring -> free list
 * </pre>
 * A received frame sits at an offset within its frame (XDP_PACKET_HEADROOM, 256, in copy mode): the RX descriptor's
 * addr points at it; the frame's start is addr rounded down to frameSize (aligned chunks). The largest frame that
 * arrives is frameSize - 256 bytes; a larger one is dropped by the kernel and counted ({@link #rxTooBig}), never
 * truncated.
 *
 * <h2>The rings</h2>
 * Each is mapped from the socket at its page offset (XDP_PGOFF_RX_RING 0, XDP_PGOFF_TX_RING 0x80000000,
 * XDP_UMEM_PGOFF_FILL_RING 0x100000000, XDP_UMEM_PGOFF_COMPLETION_RING 0x180000000); getsockopt(XDP_MMAP_OFFSETS)
 * says where in each mapping the fields are:
 * <pre>
 * struct xdp_mmap_offsets, 128 bytes: rx, tx, fr (fill), cr (completion), each a struct xdp_ring_offset:
 *   0 producer (u64)   8 consumer (u64)   16 desc (u64)   24 flags (u64)     (offsets into the ring's mapping)
 * at those offsets: producer (u32), consumer (u32), flags (u32: XDP_RING_NEED_WAKEUP 1), then size entries of
 *   RX / TX:            struct xdp_desc, 16 bytes: 0 addr (u64, UMEM offset)  8 len (u32)  12 options (u32)
 *   fill / completion:  u64 UMEM offset
 * </pre>
 * Indices are free-running u32s, the slot is index &amp; (size - 1). The producer writes its entries, then stores
 * its index with release; the consumer loads the producer's index with acquire, reads the entries, then stores its
 * own index with release (libxdp's xsk_ring_prod__submit / xsk_ring_cons__release). We produce on the fill and TX
 * rings and consume the RX and completion rings.
 * <p>
 * struct xdp_umem_reg (32 bytes, XDP_UMEM_REG): 0 addr (u64)  8 len (u64)  16 chunk_size  20 headroom  24 flags.
 * struct sockaddr_xdp (16 bytes): 0 sxdp_family (u16)  2 sxdp_flags (u16)  4 sxdp_ifindex  8 sxdp_queue_id
 * 12 sxdp_shared_umem_fd. struct xdp_statistics (48 bytes, XDP_STATISTICS, cumulative): 0 rx_dropped
 * 8 rx_invalid_descs  16 tx_invalid_descs  24 rx_ring_full  32 rx_fill_ring_empty_descs  40 tx_ring_empty_descs.
 *
 * <h2>VLAN tags</h2>
 * XDP sees the frame as it came, its 802.1Q or 802.1ad tag inline. {@link #receive} hands the same contract as
 * {@link PacketSocket}: it moves the two MAC addresses 4 bytes up over the outer tag, in the frame's own memory (12
 * bytes moved, no copy of the frame), and hands the untagged frame with the tag's TCI. {@link #send} inserts the tag
 * while it copies the frame into the UMEM. A tag that a NIC strips in hardware (rx-vlan-offload on) never reaches
 * XDP: turn that offload off on a NIC that carries VLANs (ethtool -K IF rxvlan off).
 * <p>
 * checksumPartial is always false: XDP frames come from the driver, and XDP has no view of a local sender's
 * CHECKSUM_PARTIAL. A sender on this host behind a veth that offloads its checksum (the default) delivers frames
 * whose TCP/UDP checksum is not filled in: turn tx checksumming off on that veth's peer (ethtool -K PEER tx off).
 *
 * <h2>Queues</h2>
 * One socket serves one receive queue. The uplink opens queue 0 only; on an interface with more receive queues the
 * frames the NIC steers to the others take the XDP_PASS path to the kernel's stack instead (see {@link #rxQueues}).
 */
public final class XdpSocket implements NicSocket {
    /**
     * Geometry and options.
     *
     * @param frameSize   the UMEM's frame (chunk) size: 2048 or 4096 (a received frame may be 256 bytes less)
     * @param rxRingSize  RX ring entries; as many UMEM frames receive, and the fill ring is as large (a power of two)
     * @param txRingSize  TX ring entries; as many UMEM frames transmit, the completion ring is as large
     * @param queue       the receive queue bound
     * @param promiscuous the interface in promiscuous mode while the socket is open
     * @param skbMode     attach the program in generic (skb) mode even where the driver has XDP
     */
    public record Options(int frameSize, int rxRingSize, int txRingSize, int queue, boolean promiscuous, boolean skbMode) {
        public Options {
            require(frameSize == 2048 || frameSize == 4096, "frameSize must be 2048 or 4096: " + frameSize);
            require(powerOfTwo(rxRingSize) && rxRingSize >= 64 && rxRingSize <= 32768,
                    "rxRingSize must be a power of two between 64 and 32768: " + rxRingSize);
            require(powerOfTwo(txRingSize) && txRingSize >= 64 && txRingSize <= 32768,
                    "txRingSize must be a power of two between 64 and 32768: " + txRingSize);
            require(queue >= 0, "queue must not be negative: " + queue);
        }

        /** Frames of 4096 bytes (up to 3840 received), 2048 RX and 2048 TX entries (16 MiB of UMEM), queue 0. */
        public static Options defaults() {
            return new Options(4096, 2048, 2048, 0, false, false);
        }

        public Options withPromiscuous(boolean on) {
            return new Options(frameSize, rxRingSize, txRingSize, queue, on, skbMode);
        }

        public Options withFrameSize(int size) {
            return new Options(size, rxRingSize, txRingSize, queue, promiscuous, skbMode);
        }

        public Options withRings(int rx, int tx) {
            return new Options(frameSize, rx, tx, queue, promiscuous, skbMode);
        }

        public Options withSkbMode(boolean on) {
            return new Options(frameSize, rxRingSize, txRingSize, queue, promiscuous, on);
        }

        /** The largest frame received whole: the frame size less the kernel's headroom. */
        public int maxRxFrame() {
            return frameSize - XDP_PACKET_HEADROOM;
        }

        private static boolean powerOfTwo(int n) {
            return n > 0 && (n & (n - 1)) == 0;
        }

        private static void require(boolean ok, String message) {
            if (!ok) {
                throw new IllegalArgumentException(message);
            }
        }
    }

    /** include/linux/filter.h: the headroom the kernel leaves before a frame it copies into the UMEM. */
    static final int XDP_PACKET_HEADROOM = 256;

    // linux/socket.h, linux/if_xdp.h
    private static final int AF_XDP = 44;
    private static final int SOCK_RAW = 3;
    private static final int SOCK_CLOEXEC = 0x80000;
    private static final int SOCK_NONBLOCK = 0x800;
    private static final int SOL_XDP = 283;
    private static final int XDP_MMAP_OFFSETS = 1;
    private static final int XDP_RX_RING = 2;
    private static final int XDP_TX_RING = 3;
    private static final int XDP_UMEM_REG = 4;
    private static final int XDP_UMEM_FILL_RING = 5;
    private static final int XDP_UMEM_COMPLETION_RING = 6;
    private static final int XDP_STATISTICS = 7;
    private static final int XDP_OPTIONS = 8;
    /** Linux 6.17: how many frames one sendto sends in copy mode (default 32); older kernels say ENOPROTOOPT. */
    private static final int XDP_MAX_TX_SKB_BUDGET = 9;
    private static final int XDP_OPTIONS_ZEROCOPY = 1;
    private static final int XDP_COPY = 1 << 1;
    private static final int XDP_USE_NEED_WAKEUP = 1 << 3;
    private static final int XDP_RING_NEED_WAKEUP = 1;
    private static final long XDP_PGOFF_RX_RING = 0;
    private static final long XDP_PGOFF_TX_RING = 0x80000000L;
    private static final long XDP_UMEM_PGOFF_FILL_RING = 0x100000000L;
    private static final long XDP_UMEM_PGOFF_COMPLETION_RING = 0x180000000L;
    private static final long MMAP_OFFSETS_SIZE = 128;
    private static final long STATS_SIZE = 48;
    private static final int DESC_SIZE = 16;
    private static final int ADDR_SIZE = 8;
    private static final int MSG_DONTWAIT = 0x40;
    // the control socket: AF_PACKET with protocol 0 receives nothing, but holds promiscuity and answers SIOCGIFMTU
    private static final int AF_PACKET = 17;
    private static final int SOL_PACKET = 263;
    private static final int PACKET_ADD_MEMBERSHIP = 1;
    private static final int PACKET_MR_PROMISC = 1;

    private static final int ETH_HLEN = 14;
    private static final int VLAN_HLEN = 4;
    private static final int ETH_P_8021Q = 0x8100;
    private static final int ETH_P_8021AD = 0x88a8;

    private static final VarHandle INT = ValueLayout.JAVA_INT.varHandle();
    private static final ValueLayout.OfShort BE_SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    /** One mapped ring: where its indices, flags and entries are. */
    private record Ring(MemorySegment map, long producer, long consumer, long flags, long desc, int mask) {
        static Ring map(int fd, long pgoff, MemorySegment offsets, long at, int size, int entry, Arena arena)
                throws NativeException {
            long producer = offsets.get(ValueLayout.JAVA_LONG, at);
            long consumer = offsets.get(ValueLayout.JAVA_LONG, at + 8);
            long desc = offsets.get(ValueLayout.JAVA_LONG, at + 16);
            long flags = offsets.get(ValueLayout.JAVA_LONG, at + 24);
            MemorySegment m = LibC.mmap(desc + (long) size * entry, LibC.PROT_READ | LibC.PROT_WRITE,
                    LibC.MAP_SHARED | LibC.MAP_POPULATE, fd, pgoff, arena);
            return new Ring(m, producer, consumer, flags, desc, size - 1);
        }
    }

    private final int fd;
    private final int ctlFd;
    private final String ifname;
    private final int ifindex;
    private final int queue;
    private final Arena arena;
    private final XdpProgram program;
    private final boolean zeroCopy;
    private final String transport;
    private final MemorySegment umem;
    private final MemorySegment readOnlyUmem;
    private final long umemSize;
    private final int frameSize;
    private final long frameMask;
    private final long txBase;
    private final MemorySegment rxMap;
    private final MemorySegment txMap;
    private final MemorySegment fillMap;
    private final MemorySegment compMap;
    private final long rxProducer;
    private final long rxConsumer;
    private final long rxDesc;
    private final int rxMask;
    private final long txProducer;
    private final long txConsumer;
    private final long txFlags;
    private final long txDesc;
    private final int txMask;
    private final int txSize;
    private final long fillProducer;
    private final long fillFlags;
    private final long fillDesc;
    private final int fillMask;
    private final long compProducer;
    private final long compConsumer;
    private final long compDesc;
    private final int compMask;
    private final MemorySegment ifreq;
    private final MemorySegment statsBuf;
    private volatile int mtu;
    private boolean closed;

    // RX (owner thread): our consumer index of the RX ring, the producer last seen, our producer index of the fill
    // ring. A frame offered and not taken is held: its index, and where it is once its tag was moved away.
    private int rxCons;
    private int rxProdSeen;
    private int fillProd;
    private boolean rxHeld;
    private int rxHeldIndex;
    private long rxHeldOffset;
    private int rxHeldLength;
    private int rxHeldTci;

    // TX (owner thread): free TX frames; txProd the next TX slot we fill, txPublished what the kernel was shown,
    // txConsSeen the kernel's consumer index last seen (slots before it are taken); slots before txDeadEnd were
    // dropped on a dead link and point at no frame (the kernel skips them). compCons: the completion ring's consumer.
    private final long[] txFree;
    private int txFreeCount;
    private int txProd;
    private int txPublished;
    private int txConsSeen;
    private int txDeadEnd;
    private int compCons;

    // Counters: written by the owner with opaque stores, read by anyone with opaque loads.
    private long rxFrames;
    private long rxBytes;
    private long malformed;
    private long txFrames;
    private long txBytes;
    private long txRingFull;
    private long txTooBig;
    private long txErrors;
    private long txKernelBusy;
    private long txDriverDrops;
    private int lastTxErrno;
    // What XDP_STATISTICS said last (cumulative), and the counters derived from it.
    private long statRingFull;
    private long statFillEmpty;
    private long statDropped;
    private long rxKernelDrops;
    private long rxTooBig;

    private static final VarHandle RX_FRAMES = counter("rxFrames", long.class);
    private static final VarHandle RX_BYTES = counter("rxBytes", long.class);
    private static final VarHandle MALFORMED = counter("malformed", long.class);
    private static final VarHandle TX_FRAMES = counter("txFrames", long.class);
    private static final VarHandle TX_BYTES = counter("txBytes", long.class);
    private static final VarHandle TX_RING_FULL = counter("txRingFull", long.class);
    private static final VarHandle TX_TOO_BIG = counter("txTooBig", long.class);
    private static final VarHandle TX_ERRORS = counter("txErrors", long.class);
    private static final VarHandle TX_KERNEL_BUSY = counter("txKernelBusy", long.class);
    private static final VarHandle TX_DRIVER_DROPS = counter("txDriverDrops", long.class);
    private static final VarHandle LAST_TX_ERRNO = counter("lastTxErrno", int.class);
    private static final VarHandle RX_KERNEL_DROPS = counter("rxKernelDrops", long.class);
    private static final VarHandle RX_TOO_BIG = counter("rxTooBig", long.class);

    private static VarHandle counter(String name, Class<?> type) {
        try {
            return MethodHandles.lookup().findVarHandle(XdpSocket.class, name, type);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private XdpSocket(int fd, int ctlFd, String ifname, int ifindex, Options o, Arena arena, MemorySegment umem,
                      Ring rx, Ring tx, Ring fill, Ring comp, XdpProgram program, boolean zeroCopy) {
        this.fd = fd;
        this.ctlFd = ctlFd;
        this.ifname = ifname;
        this.ifindex = ifindex;
        this.queue = o.queue();
        this.arena = arena;
        this.program = program;
        this.zeroCopy = zeroCopy;
        this.transport = "af_xdp (" + program.mode().word + ", " + (zeroCopy ? "zero-copy" : "copy") + ")";
        this.umem = umem;
        this.readOnlyUmem = umem.asReadOnly();
        this.umemSize = umem.byteSize();
        this.frameSize = o.frameSize();
        this.frameMask = ~(long) (o.frameSize() - 1);
        this.txBase = (long) o.rxRingSize() * o.frameSize();
        this.rxMap = rx.map();
        this.rxProducer = rx.producer();
        this.rxConsumer = rx.consumer();
        this.rxDesc = rx.desc();
        this.rxMask = rx.mask();
        this.txMap = tx.map();
        this.txProducer = tx.producer();
        this.txConsumer = tx.consumer();
        this.txFlags = tx.flags();
        this.txDesc = tx.desc();
        this.txMask = tx.mask();
        this.txSize = o.txRingSize();
        this.fillMap = fill.map();
        this.fillProducer = fill.producer();
        this.fillFlags = fill.flags();
        this.fillDesc = fill.desc();
        this.fillMask = fill.mask();
        this.compMap = comp.map();
        this.compProducer = comp.producer();
        this.compConsumer = comp.consumer();
        this.compDesc = comp.desc();
        this.compMask = comp.mask();
        this.txFree = new long[o.txRingSize()];
        for (int i = 0; i < txFree.length; i++) {
            txFree[txFree.length - 1 - i] = txBase + (long) i * frameSize; // popped in address order
        }
        this.txFreeCount = txFree.length;
        this.ifreq = arena.allocate(Ifreq.SIZE, 8);
        this.statsBuf = arena.allocate(STATS_SIZE, 8);
    }

    /**
     * Opens an AF_XDP socket on queue options.queue() of ifname: registers a UMEM of (rxRingSize + txRingSize)
     * frames, sizes and maps the four rings, attaches the redirecting program (driver mode, else skb mode), binds
     * (zero-copy where the driver has it, else copy; XDP_USE_NEED_WAKEUP) and enters the socket in the program's map.
     * Every RX frame starts in the fill ring. On failure everything made so far is undone.
     *
     * @throws NativeException naming the step, e.g. {@code socket(AF_XDP)} with EAFNOSUPPORT on a kernel without XDP
     *                         sockets, {@code BPF_LINK_CREATE} with EBUSY where another XDP program is attached
     */
    public static XdpSocket open(String ifname, Options options) throws NativeException {
        int ifindex = LibC.ifNameToIndex(ifname);
        int fd = LibC.socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        int ctlFd = -1;
        Arena arena = null;
        XdpProgram program = null;
        try (Arena temp = Arena.ofConfined()) {
            arena = Arena.ofShared();
            long umemSize = (long) (options.rxRingSize() + options.txRingSize()) * options.frameSize();
            MemorySegment umem = LibC.mmapAnonymous(umemSize, LibC.MAP_POPULATE, arena);
            MemorySegment reg = temp.allocate(32, 8);
            reg.set(ValueLayout.JAVA_LONG, 0, umem.address());
            reg.set(ValueLayout.JAVA_LONG, 8, umemSize);
            reg.set(ValueLayout.JAVA_INT, 16, options.frameSize());
            setsockopt(fd, XDP_UMEM_REG, reg, "XDP_UMEM_REG");
            setInt(fd, XDP_UMEM_FILL_RING, options.rxRingSize(), "XDP_UMEM_FILL_RING", temp);
            setInt(fd, XDP_UMEM_COMPLETION_RING, options.txRingSize(), "XDP_UMEM_COMPLETION_RING", temp);
            setInt(fd, XDP_RX_RING, options.rxRingSize(), "XDP_RX_RING", temp);
            setInt(fd, XDP_TX_RING, options.txRingSize(), "XDP_TX_RING", temp);
            try {
                setInt(fd, XDP_MAX_TX_SKB_BUDGET, options.txRingSize(), "XDP_MAX_TX_SKB_BUDGET", temp);
            } catch (NativeException e) {
                // before Linux 6.17: a copy-mode sendto sends 32 frames, flush() kicks again while it makes progress
            }

            MemorySegment off = temp.allocate(MMAP_OFFSETS_SIZE, 8);
            int len = LibC.getsockopt(fd, SOL_XDP, XDP_MMAP_OFFSETS, off);
            if (len < MMAP_OFFSETS_SIZE) {
                throw new NativeException("getsockopt(XDP_MMAP_OFFSETS)", "the kernel gave " + len
                        + " bytes, without ring flags (before Linux 5.4)");
            }
            Ring rx = Ring.map(fd, XDP_PGOFF_RX_RING, off, 0, options.rxRingSize(), DESC_SIZE, arena);
            Ring tx = Ring.map(fd, XDP_PGOFF_TX_RING, off, 32, options.txRingSize(), DESC_SIZE, arena);
            Ring fill = Ring.map(fd, XDP_UMEM_PGOFF_FILL_RING, off, 64, options.rxRingSize(), ADDR_SIZE, arena);
            Ring comp = Ring.map(fd, XDP_UMEM_PGOFF_COMPLETION_RING, off, 96, options.txRingSize(), ADDR_SIZE, arena);

            // Every RX frame to the kernel before anything can arrive.
            for (int i = 0; i < options.rxRingSize(); i++) {
                fill.map().set(ValueLayout.JAVA_LONG, fill.desc() + (long) i * ADDR_SIZE, (long) i * options.frameSize());
            }
            INT.setRelease(fill.map(), fill.producer(), options.rxRingSize());

            ctlFd = LibC.socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
            program = XdpProgram.attach(ifindex, ifname, Math.max(options.queue() + 1, rxQueues(ifname)),
                    options.skbMode());
            MemorySegment sxdp = temp.allocate(16, 4);
            sxdp.set(ValueLayout.JAVA_SHORT, 0, (short) AF_XDP);
            // No XDP_COPY or XDP_ZEROCOPY: the kernel binds zero-copy where the driver has it, copy otherwise.
            // Generic XDP hands skbs: copy only.
            int bindFlags = XDP_USE_NEED_WAKEUP | (program.mode() == XdpProgram.Mode.SKB ? XDP_COPY : 0);
            sxdp.set(ValueLayout.JAVA_SHORT, 2, (short) bindFlags);
            sxdp.set(ValueLayout.JAVA_INT, 4, ifindex);
            sxdp.set(ValueLayout.JAVA_INT, 8, options.queue());
            bind(fd, sxdp);
            MemorySegment opt = temp.allocate(ValueLayout.JAVA_INT);
            LibC.getsockopt(fd, SOL_XDP, XDP_OPTIONS, opt);
            boolean zeroCopy = (opt.get(ValueLayout.JAVA_INT, 0) & XDP_OPTIONS_ZEROCOPY) != 0;
            program.insert(options.queue(), fd);

            XdpSocket socket = new XdpSocket(fd, ctlFd, ifname, ifindex, options, arena, umem, rx, tx, fill, comp,
                    program, zeroCopy);
            socket.fillProd = options.rxRingSize();
            socket.mtu = socket.readMtu();
            if (options.promiscuous()) {
                MemorySegment mreq = temp.allocate(16, 4);
                mreq.set(ValueLayout.JAVA_INT, 0, ifindex);
                mreq.set(ValueLayout.JAVA_SHORT, 4, (short) PACKET_MR_PROMISC);
                try {
                    LibC.setsockopt(ctlFd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq);
                } catch (NativeException e) {
                    throw new NativeException("setsockopt(PACKET_ADD_MEMBERSHIP(PROMISC))", e.errno());
                }
            }
            return socket;
        } catch (NativeException | RuntimeException e) {
            if (program != null) {
                program.close();
            }
            LibC.closeQuietly(fd);
            LibC.closeQuietly(ctlFd);
            if (arena != null) {
                arena.close();
            }
            if (e instanceof NativeException n) {
                throw n.within("AF_XDP socket on " + ifname + " queue " + options.queue());
            }
            throw e;
        }
    }

    /**
     * A socket closed on the queue a moment ago still holds it: the kernel releases its buffer pool from a work queue
     * (xp_release_deferred), and a bind meanwhile says EBUSY. Tried again for {@value #BIND_RETRY_MILLIS} ms; a queue
     * held by a socket still open stays busy.
     */
    private static void bind(int fd, MemorySegment sxdp) throws NativeException {
        long deadline = System.nanoTime() + BIND_RETRY_MILLIS * 1_000_000L;
        while (true) {
            try {
                LibC.bind(fd, sxdp, 16);
                return;
            } catch (NativeException e) {
                if (e.errno() != Errno.EBUSY || System.nanoTime() - deadline > 0) {
                    throw e;
                }
            }
            try {
                Thread.sleep(5);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new NativeException("bind", Errno.EINTR);
            }
        }
    }

    private static final long BIND_RETRY_MILLIS = 1000;

    private static void setInt(int fd, int name, int value, String what, Arena temp) throws NativeException {
        MemorySegment v = temp.allocate(ValueLayout.JAVA_INT);
        v.set(ValueLayout.JAVA_INT, 0, value);
        setsockopt(fd, name, v, what);
    }

    private static void setsockopt(int fd, int name, MemorySegment value, String what) throws NativeException {
        try {
            LibC.setsockopt(fd, SOL_XDP, name, value);
        } catch (NativeException e) {
            throw new NativeException("setsockopt(" + what + ")", e.errno());
        }
    }

    /** How many receive queues ifname has (the rx-N entries of /sys/class/net/IF/queues; 1 when unknown). */
    public static int rxQueues(String ifname) {
        Path dir = Path.of("/sys/class/net", ifname, "queues");
        try (Stream<Path> s = Files.list(dir)) {
            return (int) Math.max(1, s.filter(p -> p.getFileName().toString().startsWith("rx-")).count());
        } catch (IOException | RuntimeException e) {
            return 1;
        }
    }

    /** For epoll: readable while the RX ring holds frames (level-triggered). */
    @Override
    public int fd() {
        return fd;
    }

    @Override
    public synchronized int takeSocketError() throws NativeException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(ValueLayout.JAVA_INT);
            LibC.getsockopt(fd, 1, 4, v); // SOL_SOCKET, SO_ERROR
            return v.get(ValueLayout.JAVA_INT, 0);
        }
    }

    @Override
    public int ifindex() {
        return ifindex;
    }

    @Override
    public String ifname() {
        return ifname;
    }

    public int queue() {
        return queue;
    }

    /** "af_xdp (drv, copy)": where the program runs (drv: in the driver, skb: generic) and how frames cross. */
    @Override
    public String transport() {
        return transport;
    }

    /** True when the driver moves frames into and out of the UMEM itself (XDP_ZEROCOPY); false: the kernel copies. */
    public boolean zeroCopy() {
        return zeroCopy;
    }

    /** True when the program runs in the driver (native XDP), false when on the skb (generic XDP). */
    public boolean driverMode() {
        return program.mode() == XdpProgram.Mode.DRV;
    }

    /**
     * Hands up to budget received frames to handler, in order, each untagged with its outer tag's TCI (see the class
     * comment); returns how many. Non-blocking: 0 when the RX ring is empty. Each frame taken goes back to the fill
     * ring at once; the RX ring's consumer and the fill ring's producer are stored once per call. A frame the handler
     * does not take stays at the head of the RX ring, as handed (its tag moved away), and is offered again first. A
     * handler that throws loses only its frame. Never allocates.
     */
    @Override
    public int receive(FrameHandler handler, int budget) {
        MemorySegment ring = rxMap;
        MemorySegment mem = umem;
        int cons = rxCons;
        int prod = rxProdSeen;
        int fill = fillProd;
        int handed = 0;
        long bytes = 0;
        boolean inHandler = false;
        try {
            while (handed < budget) {
                if (cons == prod) {
                    prod = (int) INT.getAcquire(ring, rxProducer);
                    if (cons == prod) {
                        break;
                    }
                }
                long d = rxDesc + (long) (cons & rxMask) * DESC_SIZE;
                long addr = ring.get(ValueLayout.JAVA_LONG, d);
                int len = ring.get(ValueLayout.JAVA_INT, d + 8);
                long at;
                int length;
                int tci;
                if (rxHeld && rxHeldIndex == cons) {
                    at = rxHeldOffset;
                    length = rxHeldLength;
                    tci = rxHeldTci;
                } else {
                    if (addr < 0 || addr >= txBase || len < 0 || len > frameSize - (addr & ~frameMask)) {
                        // never expected from the kernel: not a frame of ours, and nothing to give back
                        MALFORMED.setOpaque(this, malformed + 1);
                        cons++;
                        continue;
                    }
                    at = addr;
                    length = len;
                    tci = -1;
                    if (len >= ETH_HLEN + VLAN_HLEN) {
                        int tpid = Short.toUnsignedInt(mem.get(BE_SHORT, addr + 12));
                        if (tpid == ETH_P_8021Q || tpid == ETH_P_8021AD) {
                            tci = Short.toUnsignedInt(mem.get(BE_SHORT, addr + 14)) | (tpid == ETH_P_8021AD ? VLAN_8021AD : 0);
                            MemorySegment.copy(mem, addr, mem, addr + VLAN_HLEN, 12); // overlapping: as memmove
                            at = addr + VLAN_HLEN;
                            length = len - VLAN_HLEN;
                        }
                    }
                    rxHeld = true;
                    rxHeldIndex = cons;
                    rxHeldOffset = at;
                    rxHeldLength = length;
                    rxHeldTci = tci;
                }
                inHandler = true;
                boolean took = handler.onFrame(readOnlyUmem, at, length, tci, false);
                inHandler = false;
                if (!took) {
                    break; // held: offered again first
                }
                rxHeld = false;
                fillMap.set(ValueLayout.JAVA_LONG, fillDesc + (long) (fill & fillMask) * ADDR_SIZE, addr & frameMask);
                fill++;
                cons++;
                handed++;
                bytes += length;
            }
        } finally {
            if (inHandler) {
                // the handler threw: its frame is lost, the next one is offered next
                rxHeld = false;
                long addr = ring.get(ValueLayout.JAVA_LONG, rxDesc + (long) (cons & rxMask) * DESC_SIZE);
                fillMap.set(ValueLayout.JAVA_LONG, fillDesc + (long) (fill & fillMask) * ADDR_SIZE, addr & frameMask);
                fill++;
                cons++;
            }
            rxProdSeen = prod;
            if (cons != rxCons) {
                // Release: our reads of the frames happen before the kernel may fill them again.
                INT.setRelease(ring, rxConsumer, cons);
                rxCons = cons;
            }
            if (fill != fillProd) {
                INT.setRelease(fillMap, fillProducer, fill);
                fillProd = fill;
                if (zeroCopy && ((int) INT.getAcquire(fillMap, fillFlags) & XDP_RING_NEED_WAKEUP) != 0) {
                    // the driver sleeps for want of fill entries: a recvfrom wakes it (xsk_recvmsg)
                    LibC.recvOrErrno(fd, MemorySegment.NULL, 0, MSG_DONTWAIT);
                }
            }
            if (handed > 0) {
                RX_FRAMES.setOpaque(this, rxFrames + handed);
                RX_BYTES.setOpaque(this, rxBytes + bytes);
            }
        }
        return handed;
    }

    /**
     * Copies the frame into a free TX frame of the UMEM, inserting an 802.1Q tag (TPID 0x8100, TCI vlanTci &amp;
     * 0xffff; 0x88a8 with {@link #VLAN_8021AD}) after the source MAC when vlanTci >= 0, and writes its descriptor in
     * the TX ring; the kernel sees it at the next {@link #flush}. Returns false, counting each reason apart, when no
     * TX frame or slot is free ({@link #txRingFull}), when the frame with its tag exceeds a UMEM frame or the MTU
     * ({@link #txTooBig}; never truncated), or when it is shorter than an Ethernet header ({@link #txErrors}, EINVAL).
     * Never blocks, never allocates.
     */
    @Override
    public boolean send(MemorySegment segment, long offset, int length, int vlanTci) {
        if (length < ETH_HLEN) {
            TX_ERRORS.setOpaque(this, txErrors + 1);
            LAST_TX_ERRNO.setOpaque(this, Errno.EINVAL);
            return false;
        }
        int tag = vlanTci >= 0 ? VLAN_HLEN : 0;
        int wire = length + tag;
        int tpid = tag != 0 ? tagTpid(vlanTci) : Short.toUnsignedInt(segment.get(BE_SHORT, offset + 12));
        if (wire > frameSize || wire > mtuLimit(tpid)) {
            TX_TOO_BIG.setOpaque(this, txTooBig + 1);
            return false;
        }
        if (txFreeCount == 0 || txProd - txConsSeen == txSize) {
            reclaim();
            takeConsumed();
            if (txFreeCount == 0 || txProd - txConsSeen == txSize) {
                TX_RING_FULL.setOpaque(this, txRingFull + 1);
                return false;
            }
        }
        long frame = txFree[--txFreeCount];
        MemorySegment mem = umem;
        if (tag == 0) {
            MemorySegment.copy(segment, offset, mem, frame, length);
        } else {
            MemorySegment.copy(segment, offset, mem, frame, 12);
            mem.set(BE_SHORT, frame + 12, (short) tpid);
            mem.set(BE_SHORT, frame + 14, (short) vlanTci);
            MemorySegment.copy(segment, offset + 12, mem, frame + 16, length - 12);
        }
        long d = txDesc + (long) (txProd & txMask) * DESC_SIZE;
        txMap.set(ValueLayout.JAVA_LONG, d, frame);
        txMap.set(ValueLayout.JAVA_INT, d + 8, wire);
        txMap.set(ValueLayout.JAVA_INT, d + 12, 0);
        txProd++;
        return true;
    }

    private static int tagTpid(int vlanTci) {
        return (vlanTci & VLAN_8021AD) != 0 ? ETH_P_8021AD : ETH_P_8021Q;
    }

    /** The longest frame the interface takes: MTU + Ethernet header, + 4 when the frame's outer TPID is 802.1Q. */
    private int mtuLimit(int outerType) {
        return mtu + ETH_HLEN + (outerType == ETH_P_8021Q ? VLAN_HLEN : 0);
    }

    /**
     * Shows the kernel the descriptors queued since the last flush (one release store of the TX producer) and kicks
     * it ({@code sendto(fd, NULL, 0, MSG_DONTWAIT)}; in zero-copy mode only when the ring asks, XDP_RING_NEED_WAKEUP);
     * returns how many frames it took. In copy mode the kernel transmits inside the call, at most its budget per call
     * (32 before Linux 6.17), and says EAGAIN when more wait: the kick is repeated while it makes progress.
     * <ul>
     * <li>No progress (EAGAIN, ENOBUFS: the device queue is full): what it did not take stays queued for the next
     * flush, counted once in {@link #txKernelBusy}.</li>
     * <li>EBUSY: the driver dropped the last frame it took (a veth whose peer's backlog is full); counted in
     * {@link #txDriverDrops}, not as an error, and the kick goes on.</li>
     * <li>A dead link (ENETDOWN: the interface is down; ENXIO: it is gone, the socket unbound): the queued frames are
     * dropped, each counted in {@link #txErrors}, {@link #lastTxErrno} telling why. Their descriptors cannot be taken
     * back from a ring the kernel was shown: they are pointed outside the UMEM, and the kernel skips them when it
     * reads them (tx_invalid_descs), their frames free at once. Safe because nothing reads the ring meanwhile: in
     * copy mode the kernel reads it only inside this thread's sendto and poll; a zero-copy driver does not run on a
     * link that is down.</li>
     * </ul>
     * Also takes back the frames the kernel completed. Never allocates.
     */
    @Override
    public int flush() {
        reclaim();
        if (!txPending()) {
            return 0;
        }
        if (txProd != txPublished) {
            // Release: the frames and their descriptors are written before the kernel may see the new producer.
            INT.setRelease(txMap, txProducer, txProd);
            txPublished = txProd;
        }
        int handed = 0;
        while (true) {
            boolean kick = !zeroCopy || ((int) INT.getAcquire(txMap, txFlags) & XDP_RING_NEED_WAKEUP) != 0;
            long r = kick ? LibC.sendtoOrErrno(fd, MemorySegment.NULL, 0, MSG_DONTWAIT) : 0;
            int before = txConsSeen;
            handed += takeConsumed();
            boolean progress = txConsSeen != before; // a dropped descriptor skipped is progress too
            int errno = r < 0 ? (int) -r : 0;
            if (errno == Errno.EBUSY) {
                TX_DRIVER_DROPS.setOpaque(this, txDriverDrops + 1);
            }
            if (!txPending() || !kick) {
                break;
            }
            if (errno != 0 && errno != Errno.EAGAIN && errno != Errno.EBUSY && errno != Errno.ENOBUFS) {
                dropQueued(errno);
                break;
            }
            if (!progress) {
                TX_KERNEL_BUSY.setOpaque(this, txKernelBusy + 1);
                break;
            }
        }
        reclaim();
        return handed;
    }

    /** Counts the slots the kernel consumed since we last looked (acquire: it is done reading them). */
    private int takeConsumed() {
        int cons = (int) INT.getAcquire(txMap, txConsumer);
        int seen = txConsSeen;
        if (cons == seen) {
            return 0;
        }
        int taken = 0;
        long bytes = 0;
        for (int i = seen; i != cons; i++) {
            if (i - txDeadEnd >= 0) {
                bytes += txMap.get(ValueLayout.JAVA_INT, txDesc + (long) (i & txMask) * DESC_SIZE + 8);
                taken++;
            }
        }
        txConsSeen = cons;
        if (taken > 0) {
            TX_FRAMES.setOpaque(this, txFrames + taken);
            TX_BYTES.setOpaque(this, txBytes + bytes);
        }
        return taken;
    }

    /** The link is dead: every queued descriptor is pointed outside the UMEM (the kernel skips it), its frame freed. */
    private void dropQueued(int errno) {
        int from = txDeadEnd - txConsSeen > 0 ? txDeadEnd : txConsSeen;
        int dropped = 0;
        for (int i = from; i != txProd; i++) {
            long d = txDesc + (long) (i & txMask) * DESC_SIZE;
            free(txMap.get(ValueLayout.JAVA_LONG, d));
            txMap.set(ValueLayout.JAVA_LONG, d, umemSize);
            txMap.set(ValueLayout.JAVA_INT, d + 8, 0);
            dropped++;
        }
        txDeadEnd = txProd;
        TX_ERRORS.setOpaque(this, txErrors + dropped);
        LAST_TX_ERRNO.setOpaque(this, errno);
    }

    /** Takes the frames the kernel completed from the completion ring back into the free list. */
    private void reclaim() {
        int prod = (int) INT.getAcquire(compMap, compProducer);
        int cons = compCons;
        if (prod == cons) {
            return;
        }
        for (; cons != prod; cons++) {
            free(compMap.get(ValueLayout.JAVA_LONG, compDesc + (long) (cons & compMask) * ADDR_SIZE));
        }
        INT.setRelease(compMap, compConsumer, cons);
        compCons = cons;
    }

    private void free(long addr) {
        long frame = addr & frameMask;
        if (frame < txBase || frame >= umemSize || txFreeCount == txFree.length) {
            MALFORMED.setOpaque(this, malformed + 1); // never expected: not one of our TX frames
            return;
        }
        txFree[txFreeCount++] = frame;
    }

    /** True while queued frames wait that the kernel has not taken (dropped ones left aside). */
    @Override
    public boolean txPending() {
        int live = txDeadEnd - txConsSeen > 0 ? txDeadEnd : txConsSeen;
        return txProd - live > 0;
    }

    /** How many frames the TX ring holds. */
    public int txSlots() {
        return txSize;
    }

    /**
     * Reads the kernel's statistics of the socket (XDP_STATISTICS, cumulative) into the counters: frames dropped for
     * want of RX ring or fill ring space ({@link #rxKernelDrops}), and the others it dropped, mostly frames larger than
     * a UMEM frame ({@link #rxTooBig}). Returns the ring-space drops since the previous call.
     */
    @Override
    public synchronized long pollKernelStats() throws NativeException {
        if (closed) {
            return 0;
        }
        statsBuf.fill((byte) 0);
        LibC.getsockopt(fd, SOL_XDP, XDP_STATISTICS, statsBuf);
        long dropped = statsBuf.get(ValueLayout.JAVA_LONG, 0);
        long ringFull = statsBuf.get(ValueLayout.JAVA_LONG, 24);
        long fillEmpty = statsBuf.get(ValueLayout.JAVA_LONG, 32);
        // An empty fill ring counts in rx_dropped too (xsk_buff_alloc failing): counted once, as a ring-space drop.
        long space = (ringFull - statRingFull) + (fillEmpty - statFillEmpty);
        long other = Math.max(0, (dropped - statDropped) - (fillEmpty - statFillEmpty));
        statRingFull = ringFull;
        statFillEmpty = fillEmpty;
        statDropped = dropped;
        RX_KERNEL_DROPS.setOpaque(this, rxKernelDrops + space);
        RX_TOO_BIG.setOpaque(this, rxTooBig + other);
        return space;
    }

    /** The MTU {@link #send} holds frames to (read at open). */
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
        int r = LibC.ioctlOrErrno(ctlFd, Ifreq.SIOCGIFMTU, ifreq);
        return r < 0 ? (mtu > 0 ? mtu : frameSize) : ifreq.get(ValueLayout.JAVA_INT, Ifreq.UNION);
    }

    @Override
    public long rxFrames() {
        return (long) RX_FRAMES.getOpaque(this);
    }

    @Override
    public long rxBytes() {
        return (long) RX_BYTES.getOpaque(this);
    }

    /** Frames the kernel dropped for want of RX ring or fill ring space (accumulated by {@link #pollKernelStats}). */
    @Override
    public long rxKernelDrops() {
        return (long) RX_KERNEL_DROPS.getOpaque(this);
    }

    /**
     * Frames the kernel dropped for other reasons, mostly longer than a UMEM frame less its headroom
     * ({@link Options#maxRxFrame}): counted, never handed (accumulated by {@link #pollKernelStats}).
     */
    public long rxTooBig() {
        return (long) RX_TOO_BIG.getOpaque(this);
    }

    /** RX or completion entries that pointed outside our frames (never expected from the kernel): skipped. */
    public long malformed() {
        return (long) MALFORMED.getOpaque(this);
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

    /** Flushes that left frames queued because the kernel made no progress (device queue full). */
    public long txKernelBusy() {
        return (long) TX_KERNEL_BUSY.getOpaque(this);
    }

    /** Frames the kernel took and the driver then dropped (EBUSY from the kick: NET_XMIT_DROP). */
    public long txDriverDrops() {
        return (long) TX_DRIVER_DROPS.getOpaque(this);
    }

    @Override
    public int lastTxErrno() {
        return (int) LAST_TX_ERRNO.getOpaque(this);
    }

    /**
     * Detaches the program (its BPF link closed), closes the socket (which leaves the map) and the control socket
     * (dropping promiscuity), then unmaps the rings and the UMEM; idempotent. Frames still queued are dropped.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            program.close();
            LibC.closeQuietly(fd);
            LibC.closeQuietly(ctlFd);
        } finally {
            arena.close();
        }
    }

    @Override
    public String toString() {
        return "AF_XDP socket " + fd + " on " + ifname + " (ifindex " + ifindex + ") queue " + queue + ", " + transport;
    }
}

package io.vnicd.virtio.vhostuser;

import io.vnicd.nativeio.EventFd;
import io.vnicd.nativeio.LibC;
import io.vnicd.nativeio.NativeException;
import io.vnicd.nativeio.SharedMemory;
import io.vnicd.nativeio.UnixSocket;
import io.vnicd.virtio.memory.DirtyLog;
import io.vnicd.virtio.memory.GuestMemory;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

import static io.vnicd.virtio.vhostuser.ProtocolFeatures.bit;

/**
 * Serves one frontend connection: reads each message, validates it, dispatches it to the back-end and
 * replies (rust-vmm's {@code handle_request()}: read header, validate, read body, validate, dispatch).
 * <p>
 * A message that cannot be understood is refused with a logged reason (and a failure reply where the frontend
 * waits for one); the connection is only dropped when the byte stream itself cannot be trusted any more
 * (a bad version, an oversized payload, a peer that vanished). Nothing the frontend sends can throw out of
 * {@link #serve()}. Runs on one thread.
 */
public final class VhostUserSession {
    private static final System.Logger LOG = System.getLogger(VhostUserSession.class.getName());
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED;

    /** Virtio status bits (virtio spec 2.1). */
    private static final int STATUS_DRIVER_OK = 4;
    private static final int STATUS_FAILED = 0x80;
    /** virtio 1.2, 2.1: the device hit an error it cannot recover from without a reset. */
    private static final int STATUS_NEEDS_RESET = 0x40;

    private final UnixSocket socket;
    private final VhostUserBackend backend;
    private final String peer;
    private final Arena arena = Arena.ofConfined();
    private final MemorySegment header = arena.allocate(MessageHeader.LENGTH, 8);
    private final MemorySegment payload = arena.allocate(MessageHeader.MAX_PAYLOAD, 8);
    private final MemorySegment reply = arena.allocate(MessageHeader.LENGTH + 64, 8);
    private final int[] fds = new int[UnixSocket.MAX_FDS];
    private final Vring[] vrings;
    private final AtomicLong refused = new AtomicLong();

    private long ackedFeatures;
    private long ackedProtocolFeatures;
    private boolean featuresSet;
    private int status;
    private int backendRequests = -1;
    private String closeReason = "frontend closed the connection";

    /** What the session knows of one virtqueue; owned by the session thread. */
    private static final class Vring {
        final int index;
        int size;
        long desc;
        long avail;
        long used;
        long log = -1;
        boolean addressed;
        int base;
        EventFd kick;
        EventFd call;
        EventFd err;
        boolean started;
        boolean enabled;

        Vring(int index) {
            this.index = index;
        }
    }

    public VhostUserSession(UnixSocket socket, VhostUserBackend backend, String peer) {
        this.socket = socket;
        this.backend = backend;
        this.peer = peer;
        this.vrings = new Vring[backend.queueCount()];
        for (int i = 0; i < vrings.length; i++) {
            vrings[i] = new Vring(i);
        }
    }

    /** Messages refused so far (malformed, unsupported, or invalid for the device's state). */
    public long refused() {
        return refused.get();
    }

    /** Why the session ended, once {@link #serve()} returned. */
    public String closeReason() {
        return closeReason;
    }

    /** Serves messages until the frontend goes away or breaks the stream; then resets the back-end. */
    public void serve() {
        try {
            while (readAndHandle()) {
                // one message at a time, in order, as the protocol requires
            }
        } catch (NativeException e) {
            closeReason = socket.isClosed() ? "vnicd closed the connection" : "socket error: " + e.getMessage();
        } catch (RuntimeException | Error e) {
            // Last resort (a bug, or the data path not answering): this connection ends, the VF accepts the next.
            closeReason = "internal error: " + e;
            LOG.log(System.Logger.Level.ERROR, backend.name() + ": internal error serving " + peer, e);
        } finally {
            try {
                releaseAll();
            } catch (RuntimeException | Error e) {
                LOG.log(System.Logger.Level.ERROR, backend.name() + ": cannot release what " + peer + " set up", e);
            }
            arena.close();
        }
    }

    private boolean readAndHandle() throws NativeException {
        long n = socket.receive(header, MessageHeader.LENGTH, fds);
        int fdCount = socket.lastFdCount();
        if (n == 0) {
            closeFds(fdCount);
            return false;
        }
        if (n < MessageHeader.LENGTH && !socket.readFully(header.asSlice(n), MessageHeader.LENGTH - n)) {
            closeFds(fdCount);
            closeReason = "frontend closed the connection in the middle of a message header";
            return false;
        }
        int code = header.get(INT, MessageHeader.REQUEST_OFFSET);
        int flags = header.get(INT, MessageHeader.FLAGS_OFFSET);
        int size = header.get(INT, MessageHeader.SIZE_OFFSET);
        if ((flags & MessageHeader.VERSION_MASK) != MessageHeader.VERSION) {
            closeFds(fdCount);
            closeReason = "protocol version " + (flags & MessageHeader.VERSION_MASK) + " in request " + code
                    + " (vnicd speaks version 1): the stream cannot be trusted";
            return false;
        }
        if (size < 0 || size > MessageHeader.MAX_PAYLOAD) {
            closeFds(fdCount);
            closeReason = "request " + code + " announces a payload of " + Integer.toUnsignedString(size)
                    + " bytes (at most " + MessageHeader.MAX_PAYLOAD + "): the stream cannot be trusted";
            return false;
        }
        if (size > 0 && !socket.readFully(payload, size)) {
            closeFds(fdCount);
            closeReason = "frontend closed the connection in the middle of request " + code;
            return false;
        }
        Request request = Request.of(code);
        boolean needReply = (flags & MessageHeader.NEED_REPLY) != 0;
        if (request == null) {
            closeFds(fdCount);
            refuse("unknown request " + code + " (" + size + " bytes)");
            if (needReply && !replyAck(code, false)) {
                return false;
            }
            return true;
        }
        if (request.payload >= 0 && size != request.payload) {
            closeFds(fdCount);
            refuse(request + " carries " + size + " bytes, expected " + request.payload);
            if (request.alwaysReplies) {
                closeReason = "cannot answer a malformed " + request;
                return false;
            }
            if (needReply) {
                replyAck(code, false);
            }
            return true;
        }
        boolean ok;
        try {
            dispatch(request, size, fdCount);
            ok = true;
        } catch (VhostUserException e) {
            refuse(request + ": " + e.getMessage());
            ok = false;
            if (request.alwaysReplies) {
                replyFailure(request);
            }
        } finally {
            // Descriptors a handler kept were marked -1; any other one came with the message and is closed.
            closeFds(fdCount);
        }
        if (!request.alwaysReplies && needReply && (ackedProtocolFeatures & bit(ProtocolFeatures.REPLY_ACK)) != 0) {
            replyAck(code, ok);
        }
        return true;
    }

    /** Handles one request. A handler that keeps a received fd takes it with {@link #take(int)}. */
    private void dispatch(Request request, int size, int fdCount) throws VhostUserException, NativeException {
        switch (request) {
            case GET_FEATURES -> replyU64(request, offeredFeatures());
            case SET_FEATURES -> setFeatures(payload.get(LONG, 0));
            case SET_OWNER -> LOG.log(System.Logger.Level.DEBUG, () -> backend.name() + ": owner set by " + peer);
            case RESET_OWNER, RESET_DEVICE -> resetDevice(request);
            case GET_PROTOCOL_FEATURES -> replyU64(request, backend.protocolFeatures());
            case SET_PROTOCOL_FEATURES -> setProtocolFeatures(payload.get(LONG, 0));
            case SET_MEM_TABLE -> setMemTable(size, fdCount);
            case SET_VRING_NUM -> setVringNum(payload.get(INT, Payloads.STATE_INDEX), payload.get(INT, Payloads.STATE_NUM));
            case SET_VRING_ADDR -> setVringAddr();
            case SET_VRING_BASE -> setVringBase(payload.get(INT, Payloads.STATE_INDEX), payload.get(INT, Payloads.STATE_NUM));
            case GET_VRING_BASE -> getVringBase(payload.get(INT, Payloads.STATE_INDEX));
            case SET_VRING_KICK, SET_VRING_CALL, SET_VRING_ERR -> setVringFd(request, payload.get(LONG, 0), fdCount);
            case GET_QUEUE_NUM -> replyU64(request, backend.maxQueuePairs());
            case SET_VRING_ENABLE -> setVringEnable(payload.get(INT, Payloads.STATE_INDEX), payload.get(INT, Payloads.STATE_NUM));
            case SET_BACKEND_REQ_FD -> {
                if (fdCount != 1) {
                    throw new VhostUserException("expects one file descriptor, got " + fdCount);
                }
                LibC.closeQuietly(backendRequests);
                // Kept open for the life of the connection; vnicd sends no back-end requests yet.
                backendRequests = take(0);
            }
            case GET_MAX_MEM_SLOTS -> replyU64(request, Payloads.MAX_REGIONS);
            case SET_STATUS -> setStatus((int) payload.get(LONG, 0));
            case GET_STATUS -> replyU64(request, backend.needsReset() ? status | STATUS_NEEDS_RESET : status);
            case SET_LOG_BASE -> setLogBase(size, fdCount);
            case SEND_RARP -> sendRarp();
            case GET_CONFIG, GET_INFLIGHT_FD -> throw new VhostUserException("not supported by vnicd");
            default -> throw new VhostUserException("not supported by vnicd (its protocol feature is not offered)");
        }
    }

    /** Takes ownership of the i-th received descriptor: it will not be closed with the message. */
    private int take(int i) {
        int fd = fds[i];
        fds[i] = -1;
        return fd;
    }

    private long offeredFeatures() {
        return backend.features() | bit(ProtocolFeatures.VHOST_USER_F_PROTOCOL_FEATURES);
    }

    private void setFeatures(long acked) throws VhostUserException {
        long unknown = acked & ~offeredFeatures();
        if (unknown != 0) {
            throw new VhostUserException(String.format("frontend acknowledged features 0x%x that were not offered", unknown));
        }
        boolean first = !featuresSet;
        ackedFeatures = acked;
        featuresSet = true;
        backend.setFeatures(acked);
        if ((acked & bit(ProtocolFeatures.VHOST_USER_F_PROTOCOL_FEATURES)) == 0) {
            // Without protocol features there is no SET_VRING_ENABLE: every ring is enabled (vhost-user.rst, "Ring states").
            for (Vring v : vrings) {
                if (!v.enabled) {
                    v.enabled = true;
                    backend.enableQueue(v.index, true);
                }
            }
        }
        if (first) {
            LOG.log(System.Logger.Level.INFO, () -> String.format("%s: %s negotiated features 0x%x (%s)", backend.name(),
                    peer, acked, FeatureNames.describe(acked)));
        }
    }

    private void setProtocolFeatures(long acked) throws VhostUserException {
        long unknown = acked & ~backend.protocolFeatures();
        if (unknown != 0) {
            throw new VhostUserException(String.format("frontend acknowledged protocol features 0x%x that were not offered", unknown));
        }
        ackedProtocolFeatures = acked;
        LOG.log(System.Logger.Level.INFO, () -> String.format("%s: %s negotiated protocol features 0x%x (%s)",
                backend.name(), peer, acked, FeatureNames.describeProtocol(acked)));
    }

    private void resetDevice(Request request) {
        LOG.log(System.Logger.Level.INFO, () -> backend.name() + ": " + request + " from " + peer);
        backend.reset();
        for (Vring v : vrings) {
            closeVring(v);
            vrings[v.index] = new Vring(v.index);
        }
        featuresSet = false;
        ackedFeatures = 0;
        status = 0;
    }

    private void setMemTable(int size, int fdCount) throws VhostUserException {
        try {
            if (size < Payloads.MEM_REGIONS) {
                throw new VhostUserException("carries " + size + " bytes, less than its 8-byte head");
            }
            int num = payload.get(INT, Payloads.MEM_NUM);
            if (num < 1 || num > Payloads.MAX_REGIONS) {
                throw new VhostUserException("announces " + Integer.toUnsignedString(num) + " regions (1 to "
                        + Payloads.MAX_REGIONS + " allowed)");
            }
            if (size != Payloads.MEM_REGIONS + num * Payloads.MEM_REGION_SIZE) {
                throw new VhostUserException("announces " + num + " regions but carries " + size + " bytes");
            }
            if (fdCount != num) {
                throw new VhostUserException("announces " + num + " regions but passes " + fdCount + " file descriptors");
            }
            List<SharedMemory> mappings = new ArrayList<>(num);
            List<GuestMemory.Region> regions = new ArrayList<>(num);
            try {
                for (int i = 0; i < num; i++) {
                    long at = Payloads.MEM_REGIONS + (long) i * Payloads.MEM_REGION_SIZE;
                    long gpa = payload.get(LONG, at + Payloads.REGION_GUEST_ADDR);
                    long len = payload.get(LONG, at + Payloads.REGION_SIZE);
                    long uva = payload.get(LONG, at + Payloads.REGION_USER_ADDR);
                    long offset = payload.get(LONG, at + Payloads.REGION_MMAP_OFFSET);
                    SharedMemory mapping;
                    try {
                        mapping = SharedMemory.mapFile(fds[i]);
                    } catch (NativeException e) {
                        throw new VhostUserException("region " + i + ": cannot map its file: " + e.getMessage(), e);
                    }
                    mappings.add(mapping);
                    long fileSize = mapping.segment().byteSize();
                    if (len <= 0 || offset < 0 || offset > fileSize || len > fileSize - offset) {
                        throw new VhostUserException(String.format(
                                "region %d [gpa 0x%x, size 0x%x, mmap_offset 0x%x] lies beyond its file of 0x%x bytes",
                                i, gpa, len, offset, fileSize));
                    }
                    regions.add(new GuestMemory.Region(gpa, len, uva, mapping.segment().asSlice(offset, len)));
                }
                GuestMemory memory;
                try {
                    memory = new GuestMemory(regions, () -> mappings.forEach(SharedMemory::close));
                } catch (IllegalArgumentException e) {
                    throw new VhostUserException(e.getMessage(), e);
                }
                backend.setMemory(memory);
                LOG.log(System.Logger.Level.INFO, () -> backend.name() + ": " + peer + " mapped " + num
                        + " guest memory region(s), " + (regions.stream().mapToLong(GuestMemory.Region::size).sum() >> 20) + " MiB");
            } catch (VhostUserException | RuntimeException e) {
                mappings.forEach(SharedMemory::close);
                throw e;
            }
        } finally {
            // The mappings hold the memory; the descriptors themselves are no longer needed.
            for (int i = 0; i < fdCount; i++) {
                LibC.closeQuietly(take(i));
            }
        }
    }

    /**
     * SET_LOG_BASE (LOG_SHMFD): 0 mmap_size (u64)  8 mmap_offset (u64), one fd: the dirty log of a migration. QEMU
     * waits for a reply (a SET_LOG_BASE message), and sends it again when it resizes the log.
     */
    private void setLogBase(int size, int fdCount) throws VhostUserException, NativeException {
        if ((ackedProtocolFeatures & bit(ProtocolFeatures.LOG_SHMFD)) == 0) {
            throw new VhostUserException("LOG_SHMFD was not negotiated");
        }
        if (size != 16 || fdCount != 1) {
            throw new VhostUserException("carries " + size + " bytes and " + fdCount + " fds (16 and 1 expected)");
        }
        long mmapSize = payload.get(LONG, 0);
        long mmapOffset = payload.get(LONG, 8);
        DirtyLog log;
        try {
            log = DirtyLog.map(fds[0], mmapSize, mmapOffset);
        } catch (NativeException e) {
            throw new VhostUserException("cannot map the log: " + e.getMessage(), e);
        }
        try {
            backend.setLogBase(log);
        } catch (VhostUserException | RuntimeException e) {
            log.close();
            throw e;
        }
        LOG.log(System.Logger.Level.INFO, () -> backend.name() + ": " + peer + " set a dirty log of " + (mmapSize >> 10) + " KiB");
        payload.set(LONG, 0, 0L);
        reply(Request.SET_LOG_BASE, payload, 8);
    }

    /** SEND_RARP (protocol feature RARP): 0 mac (6 bytes, first octet first). */
    private void sendRarp() throws VhostUserException {
        if ((ackedProtocolFeatures & bit(ProtocolFeatures.RARP)) == 0) {
            throw new VhostUserException("RARP was not negotiated");
        }
        long mac = 0;
        for (int i = 0; i < 6; i++) {
            mac = mac << 8 | (payload.get(ValueLayout.JAVA_BYTE, i) & 0xff);
        }
        long m = mac;
        LOG.log(System.Logger.Level.INFO, () -> backend.name() + ": " + peer + " asks to announce "
                + String.format("%012x", m) + " (a migrated guest)");
        backend.sendRarp(mac);
    }

    private Vring vring(int index) throws VhostUserException {
        if (index < 0 || index >= vrings.length) {
            throw new VhostUserException("virtqueue " + Integer.toUnsignedString(index) + " does not exist (the device has "
                    + vrings.length + ")");
        }
        return vrings[index];
    }

    private void setVringNum(int index, int num) throws VhostUserException {
        Vring v = vring(index);
        if (num < 1 || num > 32768 || Integer.bitCount(num) != 1) {
            throw new VhostUserException("queue " + index + " size " + Integer.toUnsignedString(num)
                    + " is not a power of two from 1 to 32768");
        }
        v.size = num;
    }

    private void setVringAddr() throws VhostUserException {
        Vring v = vring(payload.get(INT, Payloads.ADDR_INDEX));
        v.desc = payload.get(LONG, Payloads.ADDR_DESC);
        v.used = payload.get(LONG, Payloads.ADDR_USED);
        v.avail = payload.get(LONG, Payloads.ADDR_AVAIL);
        v.log = (payload.get(INT, Payloads.ADDR_FLAGS) & Payloads.ADDR_F_LOG) != 0 ? payload.get(LONG, Payloads.ADDR_LOG) : -1;
        v.addressed = true;
        if (v.started) {
            // A running ring moved (QEMU re-sends addresses when dirty logging toggles): resume where it stood.
            v.base = backend.stopQueue(v.index);
            startVring(v);
        }
    }

    private void setVringBase(int index, int base) throws VhostUserException {
        Vring v = vring(index);
        if (v.started) {
            throw new VhostUserException("queue " + index + " is running; GET_VRING_BASE must stop it first");
        }
        if ((base & ~0xffff) != 0) {
            throw new VhostUserException("queue " + index + " base " + Integer.toUnsignedString(base)
                    + " does not fit a split ring's 16-bit index");
        }
        v.base = base;
    }

    private void getVringBase(int index) throws VhostUserException, NativeException {
        Vring v = vring(index);
        if (v.started) {
            v.base = backend.stopQueue(index);
            v.started = false;
            if (v.kick != null) {
                v.kick.close();
                v.kick = null;
            }
            LOG.log(System.Logger.Level.DEBUG, () -> backend.name() + ": queue " + index + " stopped at " + v.base);
        }
        payload.set(INT, Payloads.STATE_INDEX, index);
        payload.set(INT, Payloads.STATE_NUM, v.base);
        reply(Request.GET_VRING_BASE, payload, 8);
    }

    private void setVringFd(Request request, long value, int fdCount) throws VhostUserException {
        Vring v = vring((int) (value & Payloads.VRING_INDEX_MASK));
        if ((value & ~(Payloads.VRING_INDEX_MASK | Payloads.VRING_NOFD)) != 0) {
            throw new VhostUserException(String.format("reserved bits set in 0x%x", value));
        }
        boolean noFd = (value & Payloads.VRING_NOFD) != 0;
        if (noFd ? fdCount != 0 : fdCount != 1) {
            throw new VhostUserException(noFd ? "says no fd but passes " + fdCount : "expects one fd, got " + fdCount);
        }
        EventFd fd = null;
        if (!noFd) {
            try {
                fd = EventFd.adoptFromPeer(fds[0]);
            } catch (NativeException e) {
                // left in fds: closed with the message
                throw new VhostUserException("queue " + v.index + ": " + e.getMessage(), e);
            }
            take(0);
        }
        switch (request) {
            case SET_VRING_KICK -> {
                if (v.started) {
                    v.base = backend.stopQueue(v.index);
                    v.started = false;
                }
                if (v.kick != null) {
                    v.kick.close();
                }
                v.kick = fd;
                try {
                    startVring(v);
                } catch (VhostUserException e) {
                    v.kick = null;
                    if (fd != null) {
                        fd.close();
                    }
                    throw e;
                }
            }
            case SET_VRING_CALL -> {
                EventFd old = v.call;
                v.call = fd;
                if (v.started) {
                    backend.setCall(v.index, fd);
                }
                if (old != null) {
                    old.close();
                }
            }
            default -> {
                if (v.err != null) {
                    v.err.close();
                }
                v.err = fd;
            }
        }
    }

    private void startVring(Vring v) throws VhostUserException {
        if (v.size == 0 || !v.addressed) {
            throw new VhostUserException("queue " + v.index + " cannot start before SET_VRING_NUM and SET_VRING_ADDR");
        }
        backend.startQueue(new VringConfig(v.index, v.size, v.desc, v.avail, v.used, v.base, v.kick, v.call, v.err, v.log));
        v.started = true;
        if (v.enabled) {
            backend.enableQueue(v.index, true);
        }
        LOG.log(System.Logger.Level.DEBUG, () -> backend.name() + ": queue " + v.index + " started, size " + v.size
                + ", base " + v.base);
    }

    private void setVringEnable(int index, int enable) throws VhostUserException {
        Vring v = vring(index);
        if (enable != 0 && enable != 1) {
            throw new VhostUserException("queue " + index + " enable value " + Integer.toUnsignedString(enable) + " is not 0 or 1");
        }
        v.enabled = enable == 1;
        backend.enableQueue(index, v.enabled);
    }

    private void setStatus(int newStatus) {
        int old = status;
        status = newStatus;
        if ((newStatus & STATUS_FAILED) != 0 && (old & STATUS_FAILED) == 0) {
            LOG.log(System.Logger.Level.WARNING, () -> backend.name() + ": " + peer + " reports the driver FAILED");
        } else if ((newStatus & STATUS_DRIVER_OK) != 0 && (old & STATUS_DRIVER_OK) == 0) {
            LOG.log(System.Logger.Level.INFO, () -> backend.name() + ": " + peer + " driver is ready (DRIVER_OK)");
        }
    }

    private void refuse(String why) {
        refused.incrementAndGet();
        LOG.log(System.Logger.Level.WARNING, () -> backend.name() + ": refused from " + peer + ": " + why);
    }

    private void replyU64(Request request, long value) throws NativeException {
        payload.set(LONG, 0, value);
        reply(request, payload, 8);
    }

    /**
     * A failure answer to a request that always replies, so that the frontend is not left waiting: zeros, and an
     * empty payload for GET_CONFIG and GET_INFLIGHT_FD (which libvhost-user also answers that way on failure).
     */
    private void replyFailure(Request request) {
        try {
            payload.asSlice(0, 8).fill((byte) 0);
            reply(request, payload, request == Request.GET_CONFIG || request == Request.GET_INFLIGHT_FD ? 0 : 8);
        } catch (NativeException e) {
            closeReason = "cannot reply: " + e.getMessage();
        }
    }

    private boolean replyAck(int code, boolean ok) {
        try {
            reply.set(LONG, MessageHeader.LENGTH, ok ? 0 : 1);
            sendReply(code, MessageHeader.LENGTH + 8, 8);
            return true;
        } catch (NativeException e) {
            closeReason = "cannot reply: " + e.getMessage();
            return false;
        }
    }

    private void reply(Request request, MemorySegment body, int size) throws NativeException {
        MemorySegment.copy(body, 0, reply, MessageHeader.LENGTH, size);
        sendReply(request.code, MessageHeader.LENGTH + size, size);
    }

    private void sendReply(int code, int total, int size) throws NativeException {
        reply.set(INT, MessageHeader.REQUEST_OFFSET, code);
        reply.set(INT, MessageHeader.FLAGS_OFFSET, MessageHeader.VERSION | MessageHeader.REPLY);
        reply.set(INT, MessageHeader.SIZE_OFFSET, size);
        socket.send(reply, total, fds, 0);
    }

    private void closeFds(int count) {
        for (int i = 0; i < count; i++) {
            LibC.closeQuietly(take(i));
        }
    }

    private void closeVring(Vring v) {
        for (EventFd fd : new EventFd[] {v.kick, v.call, v.err}) {
            if (fd != null) {
                fd.close();
            }
        }
        v.kick = null;
        v.call = null;
        v.err = null;
    }

    private void releaseAll() {
        try {
            backend.reset();
        } finally {
            for (Vring v : vrings) {
                closeVring(v);
            }
            LibC.closeQuietly(backendRequests);
        }
    }

    /** The features acknowledged so far (for logs and tests). */
    public long ackedFeatures() {
        return ackedFeatures;
    }
}

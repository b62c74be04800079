package io.vnicd.virtio.testing;

import io.vnicd.nativeio.EventFd;
import io.vnicd.nativeio.NativeException;
import io.vnicd.nativeio.UnixSocket;
import io.vnicd.virtio.vhostuser.MessageHeader;
import io.vnicd.virtio.vhostuser.Payloads;
import io.vnicd.virtio.vhostuser.ProtocolFeatures;
import io.vnicd.virtio.vhostuser.Request;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;

/**
 * A vhost-user frontend in Java for tests, benchmarks and fuzzing: speaks the protocol over a real socket
 * as QEMU or testpmd would. With REPLY_ACK negotiated every message asks for an ack, so a test knows each
 * message was handled before it sends the next. {@link #sendRaw} sends anything at all, for hostile tests.
 */
public final class VhostUserTestFrontend implements AutoCloseable {
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfLong LONG = ValueLayout.JAVA_LONG_UNALIGNED;

    private final UnixSocket socket;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment out = arena.allocate(MessageHeader.LENGTH + MessageHeader.MAX_PAYLOAD + 64, 8);
    private final MemorySegment in = arena.allocate(MessageHeader.LENGTH + MessageHeader.MAX_PAYLOAD, 8);
    private final int[] noFds = new int[UnixSocket.MAX_FDS];
    private boolean replyAck;

    private VhostUserTestFrontend(UnixSocket socket) {
        this.socket = socket;
    }

    /** Connects to a back-end listening on path, retrying until it listens or timeout passes. */
    public static VhostUserTestFrontend connect(Path path, Duration timeout) throws NativeException, InterruptedException {
        Instant end = Instant.now().plus(timeout);
        while (true) {
            try {
                return new VhostUserTestFrontend(UnixSocket.connect(path));
            } catch (NativeException e) {
                if (Instant.now().isAfter(end)) {
                    throw e;
                }
                Thread.sleep(20);
            }
        }
    }

    /** Wraps an accepted connection (for a back-end in client mode). */
    public static VhostUserTestFrontend over(UnixSocket socket) {
        return new VhostUserTestFrontend(socket);
    }

    /** The usual opening: owner, features (all offered), protocol features with REPLY_ACK. Returns the features. */
    public long handshake() throws NativeException {
        setOwner();
        long features = getFeatures();
        long protocol = getProtocolFeatures();
        setProtocolFeatures(protocol & (ProtocolFeatures.bit(ProtocolFeatures.REPLY_ACK) | ProtocolFeatures.bit(ProtocolFeatures.MQ)
                | ProtocolFeatures.bit(ProtocolFeatures.STATUS) | ProtocolFeatures.bit(ProtocolFeatures.LOG_SHMFD)
                | ProtocolFeatures.bit(ProtocolFeatures.RARP)));
        setFeatures(features);
        return features;
    }

    public void setOwner() throws NativeException {
        send(Request.SET_OWNER, 0);
    }

    public long getFeatures() throws NativeException {
        return request(Request.GET_FEATURES, 0).get(LONG, 0);
    }

    public void setFeatures(long features) throws NativeException {
        out.set(LONG, MessageHeader.LENGTH, features);
        send(Request.SET_FEATURES, 8);
    }

    public long getProtocolFeatures() throws NativeException {
        return request(Request.GET_PROTOCOL_FEATURES, 0).get(LONG, 0);
    }

    public void setProtocolFeatures(long features) throws NativeException {
        out.set(LONG, MessageHeader.LENGTH, features);
        send(Request.SET_PROTOCOL_FEATURES, 8);
        replyAck = (features & ProtocolFeatures.bit(ProtocolFeatures.REPLY_ACK)) != 0;
    }

    public int getQueueNum() throws NativeException {
        return (int) request(Request.GET_QUEUE_NUM, 0).get(LONG, 0);
    }

    /**
     * SET_MEM_TABLE with one region per fd: {guestAddr, size, userAddr, mmapOffset} quadruples.
     *
     * @return true when the back-end acknowledged success (always true without REPLY_ACK)
     */
    public boolean setMemTable(long[][] regions, int[] fds) throws NativeException {
        out.set(INT, MessageHeader.LENGTH + Payloads.MEM_NUM, regions.length);
        out.set(INT, MessageHeader.LENGTH + 4, 0);
        for (int i = 0; i < regions.length; i++) {
            long at = MessageHeader.LENGTH + Payloads.MEM_REGIONS + (long) i * Payloads.MEM_REGION_SIZE;
            out.set(LONG, at + Payloads.REGION_GUEST_ADDR, regions[i][0]);
            out.set(LONG, at + Payloads.REGION_SIZE, regions[i][1]);
            out.set(LONG, at + Payloads.REGION_USER_ADDR, regions[i][2]);
            out.set(LONG, at + Payloads.REGION_MMAP_OFFSET, regions[i][3]);
        }
        return sendWithFds(Request.SET_MEM_TABLE, Payloads.MEM_REGIONS + regions.length * Payloads.MEM_REGION_SIZE, fds, fds.length);
    }

    public boolean setVringNum(int index, int num) throws NativeException {
        return state(Request.SET_VRING_NUM, index, num);
    }

    public boolean setVringBase(int index, int base) throws NativeException {
        return state(Request.SET_VRING_BASE, index, base);
    }

    public boolean setVringEnable(int index, boolean enable) throws NativeException {
        return state(Request.SET_VRING_ENABLE, index, enable ? 1 : 0);
    }

    public int getVringBase(int index) throws NativeException {
        out.set(INT, MessageHeader.LENGTH + Payloads.STATE_INDEX, index);
        out.set(INT, MessageHeader.LENGTH + Payloads.STATE_NUM, 0);
        return request(Request.GET_VRING_BASE, 8).get(INT, Payloads.STATE_NUM);
    }

    /** SET_VRING_ADDR with frontend virtual addresses. */
    public boolean setVringAddr(int index, long desc, long used, long avail) throws NativeException {
        long b = MessageHeader.LENGTH;
        out.set(INT, b + Payloads.ADDR_INDEX, index);
        out.set(INT, b + Payloads.ADDR_FLAGS, 0);
        out.set(LONG, b + Payloads.ADDR_DESC, desc);
        out.set(LONG, b + Payloads.ADDR_USED, used);
        out.set(LONG, b + Payloads.ADDR_AVAIL, avail);
        out.set(LONG, b + Payloads.ADDR_LOG, 0);
        return send(Request.SET_VRING_ADDR, 40);
    }

    public boolean setVringKick(int index, EventFd fd) throws NativeException {
        return vringFd(Request.SET_VRING_KICK, index, fd);
    }

    public boolean setVringCall(int index, EventFd fd) throws NativeException {
        return vringFd(Request.SET_VRING_CALL, index, fd);
    }

    private boolean vringFd(Request r, int index, EventFd fd) throws NativeException {
        out.set(LONG, MessageHeader.LENGTH, fd == null ? index | Payloads.VRING_NOFD : index);
        return fd == null ? send(r, 8) : sendWithFds(r, 8, new int[] {fd.fd()}, 1);
    }

    private boolean state(Request r, int index, int num) throws NativeException {
        out.set(INT, MessageHeader.LENGTH + Payloads.STATE_INDEX, index);
        out.set(INT, MessageHeader.LENGTH + Payloads.STATE_NUM, num);
        return send(r, 8);
    }

    private boolean send(Request r, int size) throws NativeException {
        return sendWithFds(r, size, noFds, 0);
    }

    private boolean sendWithFds(Request r, int size, int[] fds, int fdCount) throws NativeException {
        boolean ack = replyAck && !r.alwaysReplies;
        writeHeader(r.code, MessageHeader.VERSION | (ack ? MessageHeader.NEED_REPLY : 0), size);
        socket.send(out, MessageHeader.LENGTH + size, fds, fdCount);
        if (!ack) {
            return true;
        }
        return readReply(r.code, 8).get(LONG, 0) == 0;
    }

    private MemorySegment request(Request r, int size) throws NativeException {
        writeHeader(r.code, MessageHeader.VERSION, size);
        socket.send(out, MessageHeader.LENGTH + size, noFds, 0);
        return readReply(r.code, -1);
    }

    private void writeHeader(int code, int flags, int size) {
        out.set(INT, MessageHeader.REQUEST_OFFSET, code);
        out.set(INT, MessageHeader.FLAGS_OFFSET, flags);
        out.set(INT, MessageHeader.SIZE_OFFSET, size);
    }

    /** SET_LOG_BASE: the dirty log of size bytes at offset 0 of fd (a migration, as QEMU sends it); waits for the reply. */
    public void setLogBase(int fd, long size) throws NativeException {
        out.set(LONG, MessageHeader.LENGTH, size);
        out.set(LONG, MessageHeader.LENGTH + 8, 0L);
        writeHeader(Request.SET_LOG_BASE.code, MessageHeader.VERSION, 16);
        socket.send(out, MessageHeader.LENGTH + 16, new int[] {fd}, 1);
        readReply(Request.SET_LOG_BASE.code, -1);
    }

    /** SEND_RARP for mac (6 bytes, first octet first), as QEMU sends it on the destination of a migration. */
    public boolean sendRarp(long mac) throws NativeException {
        for (int i = 0; i < 8; i++) {
            out.set(ValueLayout.JAVA_BYTE, MessageHeader.LENGTH + i, i < 6 ? (byte) (mac >>> (40 - 8 * i)) : 0);
        }
        return send(Request.SEND_RARP, 8);
    }

    /** Reads one reply to code; returns its payload (a view valid until the next call). */
    public MemorySegment readReply(int code, int expectedSize) throws NativeException {
        if (!socket.readFully(in, MessageHeader.LENGTH)) {
            throw new NativeException("recv", "back-end closed the connection instead of replying to request " + code);
        }
        int gotCode = in.get(INT, MessageHeader.REQUEST_OFFSET);
        int flags = in.get(INT, MessageHeader.FLAGS_OFFSET);
        int size = in.get(INT, MessageHeader.SIZE_OFFSET);
        if (gotCode != code || (flags & MessageHeader.REPLY) == 0 || size < 0 || size > MessageHeader.MAX_PAYLOAD
                || (expectedSize >= 0 && size != expectedSize)) {
            throw new NativeException("reply", "unexpected reply: request " + gotCode + " flags " + flags + " size " + size
                    + " to request " + code);
        }
        if (size > 0 && !socket.readFully(in.asSlice(MessageHeader.LENGTH), size)) {
            throw new NativeException("recv", "back-end closed the connection in a reply");
        }
        return in.asSlice(MessageHeader.LENGTH, Math.max(size, 0));
    }

    /** Sends an arbitrary message: any code, flags, size field and body, with fds. For hostile tests. */
    public void sendRaw(int code, int flags, int sizeField, byte[] body, int[] fds) throws NativeException {
        writeHeader(code, flags, sizeField);
        MemorySegment.copy(body, 0, out, ValueLayout.JAVA_BYTE, MessageHeader.LENGTH, body.length);
        socket.send(out, MessageHeader.LENGTH + body.length, fds == null ? noFds : fds, fds == null ? 0 : fds.length);
    }

    /** True when the back-end has closed the connection (reads end of stream within the wait). */
    public boolean isClosedByPeer() throws NativeException {
        return !socket.readFully(in, 1);
    }

    public UnixSocket socket() {
        return socket;
    }

    @Override
    public void close() {
        socket.close();
        arena.close();
    }
}

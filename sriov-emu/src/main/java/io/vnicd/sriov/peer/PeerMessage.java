package io.vnicd.sriov.peer;

import io.vnicd.nativeio.NativeException;
import io.vnicd.nativeio.UnixSocket;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * The messages two peered daemons exchange on their unix socket, little-endian, each a header and a payload:
 * <pre>
 *  0      4        8
 *  +------+--------+------------------------+
 *  | type | length | payload (length bytes) |     length at most MAX_PAYLOAD
 *  +------+--------+------------------------+
 *  HELLO    1: 0 version (int)  4 pid (long)  12 name length (short)  14 name (UTF-8, at most 64 bytes)
 *  CHANNEL  2: 0 slots (int)  4 slot size (int); fds: the sealed memfd, the eventfd that wakes the creator,
 *              the eventfd that wakes the joiner
 *  MACS     3: 0 count (int), then count x 16 bytes: 0 op (int: 1 add, 2 remove)  4 vlan (int)  8 mac (long)
 * </pre>
 * The peer is untrusted: every field is checked when read ({@link #read}), and a message that breaks a rule ends
 * the session with that rule named.
 */
final class PeerMessage {
    static final int HELLO = 1;
    static final int CHANNEL = 2;
    static final int MACS = 3;
    static final int VERSION = 1;
    static final int HEADER = 8;
    static final int MAX_PAYLOAD = 65536;
    static final int MAX_NAME = 64;
    static final int MAC_ENTRY = 16;
    static final int MAX_MACS = (MAX_PAYLOAD - 4) / MAC_ENTRY;
    static final int ADD = 1;
    static final int REMOVE = 2;

    /** A message as read: its type, payload, and the descriptors that came with it. */
    record Received(int type, MemorySegment payload, int[] fds) {
        int fdCount() {
            return fds.length;
        }
    }

    private final MemorySegment buf = Arena.ofAuto().allocate(HEADER + MAX_PAYLOAD, 8);
    private final int[] fds = new int[UnixSocket.MAX_FDS];

    /** Sends a message with its payload of length bytes (already in {@link #payload()}) and fds. */
    void send(UnixSocket socket, int type, int length, int... attach) throws NativeException {
        buf.set(ValueLayout.JAVA_INT, 0, type);
        buf.set(ValueLayout.JAVA_INT, 4, length);
        socket.send(buf, HEADER + length, attach, attach.length);
    }

    /** Where a payload to send is written (MAX_PAYLOAD bytes). */
    MemorySegment payload() {
        return buf.asSlice(HEADER, MAX_PAYLOAD);
    }

    void sendHello(UnixSocket socket, String name) throws NativeException {
        byte[] n = name.getBytes(StandardCharsets.UTF_8);
        int len = Math.min(n.length, MAX_NAME);
        MemorySegment p = payload();
        p.set(ValueLayout.JAVA_INT, 0, VERSION);
        p.set(ValueLayout.JAVA_LONG_UNALIGNED, 4, ProcessHandle.current().pid());
        p.set(ValueLayout.JAVA_SHORT_UNALIGNED, 12, (short) len);
        MemorySegment.copy(n, 0, p, ValueLayout.JAVA_BYTE, 14, len);
        send(socket, HELLO, 14 + len);
    }

    void sendChannel(UnixSocket socket, int slots, int slotSize, int memfd, int wakeCreator, int wakeJoiner) throws NativeException {
        MemorySegment p = payload();
        p.set(ValueLayout.JAVA_INT, 0, slots);
        p.set(ValueLayout.JAVA_INT, 4, slotSize);
        send(socket, CHANNEL, 8, memfd, wakeCreator, wakeJoiner);
    }

    /** Sends these changes in as many messages as they need. */
    void sendMacs(UnixSocket socket, List<PeerAddress> changes) throws NativeException {
        for (int from = 0; from < changes.size(); from += MAX_MACS) {
            List<PeerAddress> part = changes.subList(from, Math.min(changes.size(), from + MAX_MACS));
            MemorySegment p = payload();
            p.set(ValueLayout.JAVA_INT, 0, part.size());
            for (int i = 0; i < part.size(); i++) {
                long at = 4 + (long) i * MAC_ENTRY;
                p.set(ValueLayout.JAVA_INT_UNALIGNED, at, part.get(i).add() ? ADD : REMOVE);
                p.set(ValueLayout.JAVA_INT_UNALIGNED, at + 4, part.get(i).vlan());
                p.set(ValueLayout.JAVA_LONG_UNALIGNED, at + 8, part.get(i).mac());
            }
            send(socket, MACS, 4 + part.size() * MAC_ENTRY);
        }
    }

    /**
     * Reads one message (blocking); null when the peer closed the socket. Descriptors that arrive are the
     * caller's to close.
     *
     * @throws PeerException when the message breaks the protocol
     */
    Received read(UnixSocket socket) throws NativeException, PeerException {
        long n = socket.receive(buf, HEADER, fds);
        int fdCount = socket.lastFdCount();
        int[] got = java.util.Arrays.copyOf(fds, fdCount);
        if (n == 0) {
            closeAll(got);
            return null;
        }
        if (n < HEADER && !socket.readFully(buf.asSlice(n), HEADER - n)) {
            closeAll(got);
            return null;
        }
        int type = buf.get(ValueLayout.JAVA_INT, 0);
        int length = buf.get(ValueLayout.JAVA_INT, 4);
        if (length < 0 || length > MAX_PAYLOAD) {
            closeAll(got);
            throw new PeerException("a message of " + length + " bytes (at most " + MAX_PAYLOAD + ")");
        }
        if (length > 0 && !socket.readFully(buf.asSlice(HEADER), length)) {
            closeAll(got);
            return null;
        }
        int wantFds = type == CHANNEL ? 3 : 0;
        if (fdCount != wantFds) {
            closeAll(got);
            throw new PeerException("message type " + type + " came with " + fdCount + " descriptors, not " + wantFds);
        }
        return new Received(type, buf.asSlice(HEADER, length), got);
    }

    static void closeAll(int[] fds) {
        for (int fd : fds) {
            io.vnicd.nativeio.LibC.closeQuietly(fd);
        }
    }

    /** The peer's name and pid from a HELLO. */
    record Hello(String name, long pid) {
    }

    static Hello hello(Received m) throws PeerException {
        MemorySegment p = m.payload();
        if (m.type() != HELLO || p.byteSize() < 14) {
            throw new PeerException("expected a hello, got message type " + m.type());
        }
        int version = p.get(ValueLayout.JAVA_INT, 0);
        if (version != VERSION) {
            throw new PeerException("protocol version " + version + ", this daemon speaks " + VERSION);
        }
        int len = p.get(ValueLayout.JAVA_SHORT_UNALIGNED, 12);
        if (len < 0 || len > MAX_NAME || 14 + len > p.byteSize()) {
            throw new PeerException("a hello whose name is " + len + " bytes");
        }
        String name = new String(p.asSlice(14, len).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
        return new Hello(name.replaceAll("[^A-Za-z0-9_.@-]", "_"), p.get(ValueLayout.JAVA_LONG_UNALIGNED, 4));
    }

    static List<PeerAddress> macs(Received m) throws PeerException {
        MemorySegment p = m.payload();
        if (p.byteSize() < 4) {
            throw new PeerException("an address list of " + p.byteSize() + " bytes");
        }
        int count = p.get(ValueLayout.JAVA_INT, 0);
        if (count < 0 || count > MAX_MACS || 4 + (long) count * MAC_ENTRY != p.byteSize()) {
            throw new PeerException("an address list claiming " + count + " entries in " + p.byteSize() + " bytes");
        }
        List<PeerAddress> out = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            long at = 4 + (long) i * MAC_ENTRY;
            int op = p.get(ValueLayout.JAVA_INT_UNALIGNED, at);
            int vlan = p.get(ValueLayout.JAVA_INT_UNALIGNED, at + 4);
            long mac = p.get(ValueLayout.JAVA_LONG_UNALIGNED, at + 8);
            if ((op != ADD && op != REMOVE) || vlan < 0 || vlan > 4094 || (mac & ~0xffff_ffff_ffffL) != 0
                    || io.vnicd.devmodel.vswitch.MacAddress.isGroup(mac) || mac == 0) {
                throw new PeerException("address entry " + i + ": op " + op + ", vlan " + vlan + ", mac " + Long.toHexString(mac));
            }
            out.add(new PeerAddress(op == ADD, mac, vlan));
        }
        return out;
    }
}

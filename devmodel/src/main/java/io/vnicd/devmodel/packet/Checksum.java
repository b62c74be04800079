package io.vnicd.devmodel.packet;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The Internet checksum (RFC 1071) over frames in memory, and the completion of a transport checksum a local sender
 * left to the device (Linux's CHECKSUM_PARTIAL: the field holds the pseudo-header sum, the device sums the
 * transport header and payload into it), as a NIC does for frames it transmits with checksum offload.
 */
public final class Checksum {
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final int TCP = 6;
    private static final int UDP = 17;

    private Checksum() {
    }

    /** The ones' complement sum of [offset, offset + length), added to initial, folded to 16 bits (not inverted). */
    public static int sum(MemorySegment frame, long offset, int length, int initial) {
        long acc = initial & 0xffffL;
        long at = offset;
        long end = offset + length;
        for (; at + 4 <= end; at += 4) {
            acc += Integer.toUnsignedLong(frame.get(U32, at));
        }
        if (at + 2 <= end) {
            acc += Short.toUnsignedLong(frame.get(U16, at));
            at += 2;
        }
        if (at < end) {
            acc += (frame.get(ValueLayout.JAVA_BYTE, at) & 0xffL) << 8;
        }
        while ((acc >>> 16) != 0) {
            acc = (acc & 0xffff) + (acc >>> 16);
        }
        return (int) acc;
    }

    /**
     * Completes the TCP or UDP checksum of a frame whose sender left it partial: sums the transport header and
     * payload, the pseudo-header sum already in the field included, and stores the result there. Returns false,
     * changing nothing, for a frame that is not an unfragmented TCP or UDP packet wholly in the frame.
     *
     * @param headers the frame as {@link PacketParser} read it
     */
    public static boolean completePartial(MemorySegment frame, long offset, int length, PacketHeaders headers) {
        int l4 = headers.l4Offset();
        int proto = headers.protocol();
        if (l4 < 0 || headers.truncated() || headers.malformed() || headers.fragment() || (proto != TCP && proto != UDP)) {
            return false;
        }
        int field = proto == TCP ? 16 : 6;
        int end = l3End(frame, offset, length, headers);
        if (end < 0 || l4 + field + 2 > end) {
            return false;
        }
        int s = ~sum(frame, offset + l4, end - l4, 0) & 0xffff;
        if (proto == UDP && s == 0) {
            s = 0xffff;
        }
        frame.set(U16, offset + l4 + field, (short) s);
        return true;
    }

    /** Where the IP packet ends (its own length says, not the frame's, which may carry padding), or -1. */
    private static int l3End(MemorySegment frame, long offset, int length, PacketHeaders h) {
        int l3 = h.l3Offset();
        int end;
        if (h.ipVersion() == 4) {
            end = l3 + Short.toUnsignedInt(frame.get(U16, offset + l3 + 2));
        } else if (h.ipVersion() == 6) {
            end = l3 + 40 + Short.toUnsignedInt(frame.get(U16, offset + l3 + 4));
        } else {
            return -1;
        }
        return end <= length ? end : -1;
    }
}

package io.vnicd.devmodel.ring;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Says which flow an entry's frame belongs to, so a receive ring can spread flows over its software rings
 * while keeping each flow on one ring (and so in order). The daemon's implementation reads the frame in
 * the pool buffer the entry names and calls {@link #ofFrame}.
 */
@FunctionalInterface
public interface FlowHash {
    int hash(long entry);

    ValueLayout.OfShort NET_SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    ValueLayout.OfInt NET_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    /**
     * A symmetric hash of an Ethernet frame's flow (both directions of a connection hash alike): IPv4
     * addresses, protocol and, for TCP/UDP, ports; otherwise the two MAC addresses. Skips one 802.1Q tag.
     */
    static int ofFrame(MemorySegment frame, long offset, int length) {
        if (length < 14) {
            return 0;
        }
        long l3 = offset + 14;
        int etherType = Short.toUnsignedInt(frame.get(NET_SHORT, offset + 12));
        if (etherType == 0x8100 && length >= 18) {
            etherType = Short.toUnsignedInt(frame.get(NET_SHORT, offset + 16));
            l3 += 4;
        }
        long end = offset + length;
        if (etherType == 0x0800 && l3 + 20 <= end) {
            int headerLength = (frame.get(ValueLayout.JAVA_BYTE, l3) & 0x0f) * 4;
            int protocol = frame.get(ValueLayout.JAVA_BYTE, l3 + 9) & 0xff;
            int h = frame.get(NET_INT, l3 + 12) ^ frame.get(NET_INT, l3 + 16) ^ protocol;
            long l4 = l3 + headerLength;
            if ((protocol == 6 || protocol == 17) && l4 + 4 <= end) {
                h ^= Short.toUnsignedInt(frame.get(NET_SHORT, l4)) ^ Short.toUnsignedInt(frame.get(NET_SHORT, l4 + 2));
            }
            return mix(h);
        }
        int h = frame.get(NET_INT, offset) ^ frame.get(NET_INT, offset + 6)
                ^ (frame.get(NET_SHORT, offset + 4) ^ frame.get(NET_SHORT, offset + 10));
        return mix(h);
    }

    /** Spreads low-entropy inputs (murmur3 finaliser) so a mask of the low bits picks a ring fairly. */
    static int mix(int h) {
        h ^= h >>> 16;
        h *= 0x85ebca6b;
        h ^= h >>> 13;
        h *= 0xc2b2ae35;
        h ^= h >>> 16;
        return h;
    }
}

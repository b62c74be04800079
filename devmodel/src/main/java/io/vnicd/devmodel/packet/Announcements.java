package io.vnicd.devmodel.packet;

import io.vnicd.devmodel.vswitch.MacAddress;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The frames that tell the switches of a network where a MAC now is (a failover moved it to another NIC, a live
 * migration to another port): a gratuitous ARP for each IPv4 address the
 * MAC was seen using (RFC 5227's ARP announcement: a request with sender and target address equal, as Linux
 * bonding sends), and a RARP otherwise (as QEMU announces a migrated guest). Both broadcast, padded to 60 bytes.
 * <pre>
 * Ethernet  0 dst (ff..ff)  6 src  12 type (0x0806 ARP | 0x8035 RARP)
 * ARP      14 htype 1  16 ptype 0x0800  18 hlen 6  19 plen 4  20 op (1 request | 3 reverse request)
 *          22 sender MAC  28 sender IP  32 target MAC  38 target IP  42 .. 60 padding
 * </pre>
 */
public final class Announcements {
    public static final int LENGTH = 60;
    public static final int ETHERTYPE_ARP = 0x0806;
    public static final int ETHERTYPE_RARP = 0x8035;
    private static final ValueLayout.OfShort BE_SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfInt BE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    private Announcements() {
    }

    /** Writes a gratuitous ARP for mac at ip into frame[0, 60). */
    public static void garp(MemorySegment frame, long mac, int ip) {
        arp(frame, 1, MacAddress.BROADCAST, mac, ip, 0, ip);
    }

    /**
     * Writes an ARP frame into frame[0, 60): op (1 request, 2 reply) from mac at spa to tha at tpa, in an Ethernet
     * frame to dst.
     */
    public static void arp(MemorySegment frame, int op, long dst, long mac, int spa, long tha, int tpa) {
        header(frame, mac, ETHERTYPE_ARP, op);
        MacAddress.write(frame, 0, dst);
        MacAddress.write(frame, 22, mac);
        frame.set(BE_INT, 28, spa);
        MacAddress.write(frame, 32, tha);
        frame.set(BE_INT, 38, tpa);
    }

    /** Writes a RARP (reverse request, sender and target our MAC, no addresses) into frame[0, 60). */
    public static void rarp(MemorySegment frame, long mac) {
        header(frame, mac, ETHERTYPE_RARP, 3);
        MacAddress.write(frame, 22, mac);
        frame.set(BE_INT, 28, 0);
        MacAddress.write(frame, 32, mac);
        frame.set(BE_INT, 38, 0);
    }

    private static void header(MemorySegment frame, long mac, int type, int op) {
        frame.asSlice(0, LENGTH).fill((byte) 0);
        MacAddress.write(frame, 0, MacAddress.BROADCAST);
        MacAddress.write(frame, 6, mac);
        frame.set(BE_SHORT, 12, (short) type);
        frame.set(BE_SHORT, 14, (short) 1);
        frame.set(BE_SHORT, 16, (short) 0x0800);
        frame.set(ValueLayout.JAVA_BYTE, 18, (byte) 6);
        frame.set(ValueLayout.JAVA_BYTE, 19, (byte) 4);
        frame.set(BE_SHORT, 20, (short) op);
    }

    /**
     * The IPv4 address a frame from a station shows as its own (an ARP's sender address, an IPv4 packet's source),
     * or 0 when it shows none. Untagged frames only.
     */
    public static int sourceIp(MemorySegment frame, long offset, int length) {
        if (length < 34) {
            return 0;
        }
        int type = Short.toUnsignedInt(frame.get(BE_SHORT, offset + 12));
        if (type == ETHERTYPE_ARP && length >= 42) {
            return frame.get(BE_INT, offset + 28);
        }
        if (type == 0x0800 && (frame.get(ValueLayout.JAVA_BYTE, offset + 14) & 0xf0) == 0x40) {
            return frame.get(BE_INT, offset + 26);
        }
        return 0;
    }
}

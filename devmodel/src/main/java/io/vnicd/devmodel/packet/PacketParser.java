package io.vnicd.devmodel.packet;

import static io.vnicd.devmodel.packet.EthernetDescriptor.DST_MAC_OFFSET;
import static io.vnicd.devmodel.packet.EthernetDescriptor.ETHERTYPE_IPV4;
import static io.vnicd.devmodel.packet.EthernetDescriptor.ETHERTYPE_IPV6;
import static io.vnicd.devmodel.packet.EthernetDescriptor.ETHERTYPE_OFFSET;
import static io.vnicd.devmodel.packet.EthernetDescriptor.HEADER_LENGTH;
import static io.vnicd.devmodel.packet.EthernetDescriptor.MAC_LENGTH;
import static io.vnicd.devmodel.packet.EthernetDescriptor.MAX_TAGS;
import static io.vnicd.devmodel.packet.EthernetDescriptor.SRC_MAC_OFFSET;
import static io.vnicd.devmodel.packet.EthernetDescriptor.TAG_LENGTH;
import static io.vnicd.devmodel.packet.EthernetDescriptor.TAG_NEXT_TYPE_OFFSET;
import static io.vnicd.devmodel.packet.EthernetDescriptor.TAG_TCI_OFFSET;
import static io.vnicd.devmodel.packet.EthernetDescriptor.VLAN_ID_MASK;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Reads the headers of an Ethernet frame held in a {@link MemorySegment} into a {@link PacketHeaders}.
 *
 * <p>Every read is checked against the frame's length first, so a frame cut anywhere, or lying about its
 * lengths, sets {@code truncated} or {@code malformed} and never throws: a hostile guest or wire must not be
 * able to take the data path down. Nothing is allocated. A frame in a {@code byte[]} is parsed through a
 * {@code MemorySegment.ofArray(buffer)} made once per buffer.
 */
public final class PacketParser {
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);

    private PacketParser() {
    }

    /**
     * Parses the frame of {@code length} bytes at {@code offset} in {@code frame} into {@code out}.
     * A range reaching past the segment is clipped to it and reported as truncated.
     *
     * @return {@code out}, for chaining
     */
    public static PacketHeaders parse(MemorySegment frame, long offset, int length, PacketHeaders out) {
        out.clear();
        long size = frame.byteSize();
        if (offset < 0 || offset > size || length < 0) {
            out.truncated = true;
            return out;
        }
        long len = length;
        if (len > size - offset) {
            len = size - offset;
            out.truncated = true;
        }
        out.frameLength = (int) len;
        long end = offset + len;
        if (len < HEADER_LENGTH) {
            out.truncated = true;
            if (len >= MAC_LENGTH) {
                out.dstMac = mac(frame, offset + DST_MAC_OFFSET);
            }
            if (len >= 2 * MAC_LENGTH) {
                out.srcMac = mac(frame, offset + SRC_MAC_OFFSET);
            }
            return out;
        }
        out.dstMac = mac(frame, offset + DST_MAC_OFFSET);
        out.srcMac = mac(frame, offset + SRC_MAC_OFFSET);
        long p = offset + ETHERTYPE_OFFSET;
        int type = u16(frame, p);
        p += 2;
        while (EthernetDescriptor.isVlanTpid(type)) {
            if (out.tagCount == MAX_TAGS) {
                out.malformed = true;
                return out;
            }
            if (p + TAG_LENGTH > end) {
                out.truncated = true;
                return out;
            }
            int tci = u16(frame, p + TAG_TCI_OFFSET);
            if (out.tagCount == 0) {
                out.vlanId = tci & VLAN_ID_MASK;
                out.vlanPriority = tci >>> 13;
            } else if (out.tagCount == 1) {
                out.innerVlanId = tci & VLAN_ID_MASK;
            }
            out.tagCount++;
            type = u16(frame, p + TAG_NEXT_TYPE_OFFSET);
            p += TAG_LENGTH;
        }
        out.etherType = type;
        out.l3Offset = (int) (p - offset);
        if (type == ETHERTYPE_IPV4) {
            ipv4(frame, offset, p, end, out);
        } else if (type == ETHERTYPE_IPV6) {
            ipv6(frame, offset, p, end, out);
        }
        return out;
    }

    private static void ipv4(MemorySegment f, long frameStart, long p, long end, PacketHeaders out) {
        if (p + Ipv4Descriptor.MIN_HEADER_LENGTH > end) {
            out.truncated = true;
            return;
        }
        int versionIhl = u8(f, p + Ipv4Descriptor.VERSION_IHL_OFFSET);
        int ihl = (versionIhl & 0x0F) * 4;
        int totalLength = u16(f, p + Ipv4Descriptor.TOTAL_LENGTH_OFFSET);
        if (versionIhl >>> 4 != 4 || ihl < Ipv4Descriptor.MIN_HEADER_LENGTH || totalLength < ihl) {
            out.malformed = true;
            return;
        }
        out.ipVersion = 4;
        out.ipHeaderLength = ihl;
        out.protocol = u8(f, p + Ipv4Descriptor.PROTOCOL_OFFSET);
        out.ipv4Src = f.get(U32, p + Ipv4Descriptor.SRC_OFFSET);
        out.ipv4Dst = f.get(U32, p + Ipv4Descriptor.DST_OFFSET);
        int flagsFragment = u16(f, p + Ipv4Descriptor.FLAGS_FRAGMENT_OFFSET);
        boolean later = (flagsFragment & Ipv4Descriptor.FRAGMENT_OFFSET_MASK) != 0;
        out.fragment = later || (flagsFragment & Ipv4Descriptor.MORE_FRAGMENTS) != 0;
        out.laterFragment = later;
        long l3End = p + totalLength;
        if (l3End > end) {
            // Lengths beyond the captured bytes: read what is here; Ethernet padding past l3End is ignored.
            out.truncated = true;
            l3End = end;
        }
        if (p + ihl > l3End) {
            out.truncated = true;
            return;
        }
        if (!later) {
            transport(f, frameStart, p + ihl, l3End, out);
        }
    }

    private static void ipv6(MemorySegment f, long frameStart, long p, long end, PacketHeaders out) {
        if (p + Ipv6Descriptor.HEADER_LENGTH > end) {
            out.truncated = true;
            return;
        }
        if (u8(f, p) >>> 4 != 6) {
            out.malformed = true;
            return;
        }
        out.ipVersion = 6;
        out.ipv6SrcHigh = f.get(U64, p + Ipv6Descriptor.SRC_OFFSET);
        out.ipv6SrcLow = f.get(U64, p + Ipv6Descriptor.SRC_OFFSET + 8);
        out.ipv6DstHigh = f.get(U64, p + Ipv6Descriptor.DST_OFFSET);
        out.ipv6DstLow = f.get(U64, p + Ipv6Descriptor.DST_OFFSET + 8);
        int payloadLength = u16(f, p + Ipv6Descriptor.PAYLOAD_LENGTH_OFFSET);
        long l3End = p + Ipv6Descriptor.HEADER_LENGTH + payloadLength;
        if (payloadLength == 0) {
            // A jumbogram (RFC 2675) states its length in a hop-by-hop option: trust the frame instead.
            l3End = end;
        } else if (l3End > end) {
            out.truncated = true;
            l3End = end;
        }
        int next = u8(f, p + Ipv6Descriptor.NEXT_HEADER_OFFSET);
        long q = p + Ipv6Descriptor.HEADER_LENGTH;
        for (int walked = 0; ; walked++) {
            int headerLength;
            switch (next) {
                case Ipv6Descriptor.HOP_BY_HOP, Ipv6Descriptor.ROUTING, Ipv6Descriptor.DESTINATION_OPTIONS,
                     Ipv6Descriptor.FRAGMENT, Ipv6Descriptor.AUTHENTICATION -> {
                    if (walked == Ipv6Descriptor.MAX_EXTENSION_HEADERS) {
                        out.malformed = true;
                        return;
                    }
                    if (q + Ipv6Descriptor.EXT_MIN_LENGTH > l3End) {
                        out.truncated = true;
                        return;
                    }
                    int extLength = u8(f, q + Ipv6Descriptor.EXT_LENGTH_OFFSET);
                    if (next == Ipv6Descriptor.FRAGMENT) {
                        headerLength = Ipv6Descriptor.EXT_MIN_LENGTH;
                        out.fragment = true;
                        if (u16(f, q + Ipv6Descriptor.FRAGMENT_OFFSET_FIELD) >>> Ipv6Descriptor.FRAGMENT_OFFSET_SHIFT != 0) {
                            out.laterFragment = true;
                        }
                    } else if (next == Ipv6Descriptor.AUTHENTICATION) {
                        headerLength = (extLength + 2) * 4; // RFC 4302 2.2: in 4-byte units, minus 2
                    } else {
                        headerLength = (extLength + 1) * 8; // RFC 8200 4.3: in 8-byte units, not counting the first
                    }
                }
                default -> {
                    out.protocol = next;
                    if (!out.laterFragment) {
                        transport(f, frameStart, q, l3End, out);
                    }
                    return;
                }
            }
            next = u8(f, q + Ipv6Descriptor.EXT_NEXT_HEADER_OFFSET);
            q += headerLength;
            if (out.laterFragment) {
                // Only the first fragment holds the rest of the chain; what follows is opaque payload.
                out.protocol = next;
                return;
            }
        }
    }

    private static void transport(MemorySegment f, long frameStart, long q, long l3End, PacketHeaders out) {
        int proto = out.protocol;
        if (q > l3End) {
            // IPv6 extension headers that claim to run past the packet: the transport header is not in the frame.
            out.truncated = true;
            return;
        }
        if (!TransportDescriptor.hasPorts(proto)) {
            out.l4Offset = (int) (q - frameStart);
            return;
        }
        if (q + TransportDescriptor.PORTS_LENGTH > l3End) {
            out.truncated = true;
            return;
        }
        out.l4Offset = (int) (q - frameStart);
        out.srcPort = u16(f, q + TransportDescriptor.SRC_PORT_OFFSET);
        out.dstPort = u16(f, q + TransportDescriptor.DST_PORT_OFFSET);
        int minimum = switch (proto) {
            case TransportDescriptor.PROTO_TCP -> TransportDescriptor.TCP_MIN_HEADER_LENGTH;
            case TransportDescriptor.PROTO_UDP -> TransportDescriptor.UDP_HEADER_LENGTH;
            default -> TransportDescriptor.SCTP_COMMON_HEADER_LENGTH;
        };
        if (q + minimum > l3End) {
            out.truncated = true;
            return;
        }
        if (proto == TransportDescriptor.PROTO_TCP) {
            int dataOffset = (u8(f, q + TransportDescriptor.TCP_DATA_OFFSET_OFFSET) >>> 4) * 4;
            if (dataOffset < TransportDescriptor.TCP_MIN_HEADER_LENGTH) {
                out.malformed = true;
            } else if (q + dataOffset > l3End) {
                out.truncated = true;
            }
        }
    }

    private static int u8(MemorySegment f, long at) {
        return f.get(ValueLayout.JAVA_BYTE, at) & 0xFF;
    }

    private static int u16(MemorySegment f, long at) {
        return f.get(U16, at) & 0xFFFF;
    }

    private static long mac(MemorySegment f, long at) {
        return ((long) u16(f, at) << 32) | (f.get(U32, at + 2) & 0xFFFF_FFFFL);
    }
}

package io.vnicd.devmodel.packet;

/**
 * The headers of one frame, filled by {@link PacketParser}: a mutable flyweight that a data-path thread
 * keeps and reuses for every frame, so reading a frame allocates nothing.
 *
 * <p>Fields a frame does not have read as -1 (VLAN id, ports, protocol, offsets) or 0 (addresses).
 * {@link #truncated()} says the frame ended before its headers did; {@link #malformed()} says a header
 * held an impossible value (wrong IP version, IHL below 5, too many tags or extension headers). In both
 * cases everything read before the fault is kept, so a caller can still switch on MACs and VLAN.
 *
 * <p>Not thread-safe: one instance per thread.
 */
public final class PacketHeaders {
    private static final long MAC_MASK = 0xFFFF_FFFF_FFFFL;

    int frameLength;
    long dstMac;
    long srcMac;
    int vlanId;
    int innerVlanId;
    int vlanPriority;
    int tagCount;
    int etherType;
    int l3Offset;
    int ipVersion;
    int ipHeaderLength;
    int ipv4Src;
    int ipv4Dst;
    long ipv6SrcHigh;
    long ipv6SrcLow;
    long ipv6DstHigh;
    long ipv6DstLow;
    int protocol;
    boolean fragment;
    boolean laterFragment;
    int l4Offset;
    int srcPort;
    int dstPort;
    boolean truncated;
    boolean malformed;

    public PacketHeaders() {
        clear();
    }

    /** Forgets the previous frame. */
    public void clear() {
        frameLength = 0;
        dstMac = 0;
        srcMac = 0;
        vlanId = -1;
        innerVlanId = -1;
        vlanPriority = -1;
        tagCount = 0;
        etherType = -1;
        l3Offset = -1;
        ipVersion = 0;
        ipHeaderLength = 0;
        ipv4Src = 0;
        ipv4Dst = 0;
        ipv6SrcHigh = 0;
        ipv6SrcLow = 0;
        ipv6DstHigh = 0;
        ipv6DstLow = 0;
        protocol = -1;
        fragment = false;
        laterFragment = false;
        l4Offset = -1;
        srcPort = -1;
        dstPort = -1;
        truncated = false;
        malformed = false;
    }

    /** Bytes of the frame that were looked at (the length given to the parser, clipped to the buffer). */
    public int frameLength() {
        return frameLength;
    }

    /** Destination MAC in the low 48 bits, first byte on the wire most significant. */
    public long dstMac() {
        return dstMac;
    }

    public long srcMac() {
        return srcMac;
    }

    /** VLAN id of the outermost tag (the service tag of a QinQ frame), -1 when untagged. */
    public int vlanId() {
        return vlanId;
    }

    /** VLAN id of the second tag (the customer tag of a QinQ frame), -1 when there is none. */
    public int innerVlanId() {
        return innerVlanId;
    }

    /** 802.1p priority of the outermost tag, -1 when untagged. */
    public int vlanPriority() {
        return vlanPriority;
    }

    public int tagCount() {
        return tagCount;
    }

    /** EtherType after all VLAN tags, -1 when the frame ended before it. */
    public int etherType() {
        return etherType;
    }

    /** Offset of the L3 header from the start of the frame, -1 when there is none. */
    public int l3Offset() {
        return l3Offset;
    }

    /** 4 or 6 when an IP header was read, 0 otherwise. */
    public int ipVersion() {
        return ipVersion;
    }

    /** IPv4 header length in bytes including options (IHL * 4); 0 for other frames. */
    public int ipHeaderLength() {
        return ipHeaderLength;
    }

    public int ipv4Src() {
        return ipv4Src;
    }

    public int ipv4Dst() {
        return ipv4Dst;
    }

    /** First 8 bytes of the IPv6 source address, big-endian. */
    public long ipv6SrcHigh() {
        return ipv6SrcHigh;
    }

    public long ipv6SrcLow() {
        return ipv6SrcLow;
    }

    public long ipv6DstHigh() {
        return ipv6DstHigh;
    }

    public long ipv6DstLow() {
        return ipv6DstLow;
    }

    /**
     * The transport protocol: IPv4's protocol field, or for IPv6 the next header after the walked extension
     * headers. -1 when not known (no IP header, or the extension chain was cut short).
     */
    public int protocol() {
        return protocol;
    }

    /** True for any fragment of a fragmented datagram, the first included. */
    public boolean fragment() {
        return fragment;
    }

    /** True for a fragment other than the first: it carries no transport header, so no ports. */
    public boolean laterFragment() {
        return laterFragment;
    }

    /** Offset of the transport header from the start of the frame, -1 when none was reached. */
    public int l4Offset() {
        return l4Offset;
    }

    /** TCP, UDP or SCTP source port, -1 for other frames. */
    public int srcPort() {
        return srcPort;
    }

    public int dstPort() {
        return dstPort;
    }

    /** The frame ended before its headers did. */
    public boolean truncated() {
        return truncated;
    }

    /** A header held a value no valid frame has. */
    public boolean malformed() {
        return malformed;
    }

    /**
     * A hash of the flow: IP addresses, protocol and ports for IP frames, MACs and VLAN otherwise.
     * With {@code symmetric} both directions of a connection hash alike (for keeping a connection's two
     * halves on one queue); without it, they usually differ (for spreading).
     */
    public int flowHash(boolean symmetric) {
        long a;
        long b;
        int portA = srcPort < 0 ? 0 : srcPort;
        int portB = dstPort < 0 ? 0 : dstPort;
        if (ipVersion == 4) {
            a = ipv4Src & 0xFFFF_FFFFL;
            b = ipv4Dst & 0xFFFF_FFFFL;
        } else if (ipVersion == 6) {
            a = mix(ipv6SrcHigh) ^ ipv6SrcLow;
            b = mix(ipv6DstHigh) ^ ipv6DstLow;
        } else {
            a = srcMac & MAC_MASK;
            b = dstMac & MAC_MASK;
        }
        if (symmetric && (a > b || (a == b && portA > portB))) {
            long t = a;
            a = b;
            b = t;
            int p = portA;
            portA = portB;
            portB = p;
        }
        long h = mix(a + 0x9E37_79B9_7F4A_7C15L);
        h = mix(h ^ b);
        h = mix(h ^ ((long) portA << 16 | portB) ^ ((long) (protocol & 0xFF) << 32) ^ ((long) (vlanId & 0xFFF) << 40));
        return (int) (h ^ (h >>> 32));
    }

    /** The murmur3 64-bit finaliser: every input bit affects every output bit. */
    private static long mix(long k) {
        k ^= k >>> 33;
        k *= 0xFF51_AFD7_ED55_8CCDL;
        k ^= k >>> 33;
        k *= 0xC4CE_B9FE_1A85_EC53L;
        k ^= k >>> 33;
        return k;
    }

    @Override
    public String toString() {
        StringBuilder s = new StringBuilder(128);
        s.append("frame ").append(frameLength).append("B dst=").append(Long.toHexString(dstMac))
                .append(" src=").append(Long.toHexString(srcMac));
        if (vlanId >= 0) {
            s.append(" vlan=").append(vlanId);
        }
        if (innerVlanId >= 0) {
            s.append(" inner-vlan=").append(innerVlanId);
        }
        s.append(" type=0x").append(Integer.toHexString(etherType & 0xFFFF));
        if (ipVersion != 0) {
            s.append(" ipv").append(ipVersion).append(" proto=").append(protocol);
        }
        if (srcPort >= 0) {
            s.append(" ports=").append(srcPort).append("->").append(dstPort);
        }
        if (truncated) {
            s.append(" TRUNCATED");
        }
        if (malformed) {
            s.append(" MALFORMED");
        }
        return s.toString();
    }
}

package io.vnicd.devmodel.classify;

import io.vnicd.devmodel.packet.PacketHeaders;

/**
 * The fields a rule can match, packed into seven 64-bit words so that a rule is one value and one mask
 * per word, and a lookup is a few ANDs and one hash probe per distinct mask. A data-path thread keeps one
 * instance and reloads it for each frame; the classifier also leaves the matched rule's cookie in it.
 *
 * <pre>
 * word  63            48 47                                              0
 *      +----------------+------------------------------------------------+
 *   0  |   EtherType    |               destination MAC                  |
 *      +---+------------+------------------------------------------------+
 *   1  | 0 |VLAN (13b)  |                 source MAC                     |
 *      +---+------------+--------+---------+------------+----------------+
 *   2  |          0              |protocol |  dst port  |   src port     |
 *      +-------------------------+---------+------------+----------------+
 *   3  |         IPv6 source address, high 64 bits (0 for IPv4)          |
 *   4  |   IPv6 source address, low 64 bits; IPv4 source in bits 31..0   |
 *   5  |       IPv6 destination address, high 64 bits (0 for IPv4)       |
 *   6  |   IPv6 destination, low 64 bits; IPv4 destination in bits 31..0 |
 *      +-----------------------------------------------------------------+
 * </pre>
 *
 * The VLAN field holds the outer VLAN id, or {@link #UNTAGGED} (a value no 12-bit id has) for untagged
 * frames. Fields a frame lacks are 0: protocol for non-IP frames, ports for non-TCP/UDP/SCTP frames and
 * later fragments; the EtherType of a frame cut before it is 0xFFFF (a reserved value). IPv4 and IPv6 addresses share words; rules with addresses also match the EtherType, so
 * the two families never meet.
 */
public final class FlowKey {
    public static final int WORDS = 7;
    public static final int W_DST_MAC_ETHERTYPE = 0;
    public static final int W_SRC_MAC_VLAN = 1;
    public static final int W_PORTS_PROTOCOL = 2;
    public static final int W_SRC_HIGH = 3;
    public static final int W_SRC_LOW = 4;
    public static final int W_DST_HIGH = 5;
    public static final int W_DST_LOW = 6;

    public static final int ETHERTYPE_SHIFT = 48;
    public static final int VLAN_SHIFT = 48;
    public static final int DST_PORT_SHIFT = 16;
    public static final int PROTOCOL_SHIFT = 32;
    public static final long MAC_MASK = 0xFFFF_FFFF_FFFFL;
    public static final long VLAN_FIELD_MASK = 0x1FFF;
    /** The VLAN field of an untagged frame. */
    public static final int UNTAGGED = 0x1FFF;

    final long[] words = new long[WORDS];
    int cookie = -1;

    /** Loads the fields of a parsed frame. */
    public FlowKey load(PacketHeaders h) {
        long[] w = words;
        int vlan = h.vlanId() < 0 ? UNTAGGED : h.vlanId();
        w[W_DST_MAC_ETHERTYPE] = (h.dstMac() & MAC_MASK) | ((long) (h.etherType() & 0xFFFF) << ETHERTYPE_SHIFT);
        w[W_SRC_MAC_VLAN] = (h.srcMac() & MAC_MASK) | ((long) vlan << VLAN_SHIFT);
        long sp = h.srcPort() < 0 ? 0 : h.srcPort();
        long dp = h.dstPort() < 0 ? 0 : h.dstPort();
        long proto = h.protocol() < 0 ? 0 : h.protocol();
        w[W_PORTS_PROTOCOL] = sp | (dp << DST_PORT_SHIFT) | (proto << PROTOCOL_SHIFT);
        switch (h.ipVersion()) {
            case 4 -> {
                w[W_SRC_HIGH] = 0;
                w[W_SRC_LOW] = h.ipv4Src() & 0xFFFF_FFFFL;
                w[W_DST_HIGH] = 0;
                w[W_DST_LOW] = h.ipv4Dst() & 0xFFFF_FFFFL;
            }
            case 6 -> {
                w[W_SRC_HIGH] = h.ipv6SrcHigh();
                w[W_SRC_LOW] = h.ipv6SrcLow();
                w[W_DST_HIGH] = h.ipv6DstHigh();
                w[W_DST_LOW] = h.ipv6DstLow();
            }
            default -> {
                w[W_SRC_HIGH] = 0;
                w[W_SRC_LOW] = 0;
                w[W_DST_HIGH] = 0;
                w[W_DST_LOW] = 0;
            }
        }
        cookie = -1;
        return this;
    }

    /** One packed word (see the diagram); for tests and diagnostics. */
    public long word(int index) {
        return words[index];
    }

    /**
     * The cookie of the last rule that matched in the last classification through this key, -1 when none
     * carried one. Rules installed by DoS containment carry one, so it can find their budget.
     */
    public int cookie() {
        return cookie;
    }
}

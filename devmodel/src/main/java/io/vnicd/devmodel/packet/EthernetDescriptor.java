package io.vnicd.devmodel.packet;

/**
 * Layout of an Ethernet II header and of the 802.1Q / 802.1ad tags that may follow the source address.
 *
 * <pre>
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +---------------------------------------------------------------+
 * |                    destination MAC (6 bytes)                  |
 * +                               +-------------------------------+
 * |                               |                               |
 * +-------------------------------+                               +
 * |                      source MAC (6 bytes)                     |
 * +-------------------------------+-------------------------------+
 * |     EtherType or TPID         |  (tag) PCP|D|    VLAN id      |  &lt;- repeated per tag
 * +-------------------------------+-------------------------------+
 * |  EtherType after the tags     |  L3 header ...
 * +-------------------------------+
 * </pre>
 *
 * A tag is four bytes: the TPID that took the EtherType's place, then the TCI (IEEE 802.1Q-2018 9.6).
 */
public final class EthernetDescriptor {
    public static final int DST_MAC_OFFSET = 0;
    public static final int SRC_MAC_OFFSET = 6;
    public static final int ETHERTYPE_OFFSET = 12;
    public static final int HEADER_LENGTH = 14;
    public static final int MAC_LENGTH = 6;

    /** Size of one VLAN tag; the TCI sits at the start of it, the next EtherType two bytes later. */
    public static final int TAG_LENGTH = 4;
    public static final int TAG_TCI_OFFSET = 0;
    public static final int TAG_NEXT_TYPE_OFFSET = 2;
    public static final int VLAN_ID_MASK = 0x0FFF;
    /** More stacked tags than this is treated as malformed: it bounds the work spent on a hostile frame. */
    public static final int MAX_TAGS = 4;

    public static final int TPID_8021Q = 0x8100;
    public static final int TPID_8021AD = 0x88A8;
    /** Pre-standard QinQ outer TPID still sent by some switches. */
    public static final int TPID_QINQ_LEGACY = 0x9100;

    public static final int ETHERTYPE_IPV4 = 0x0800;
    public static final int ETHERTYPE_ARP = 0x0806;
    public static final int ETHERTYPE_IPV6 = 0x86DD;

    private EthernetDescriptor() {
    }

    /** True for the TPIDs that announce a VLAN tag. */
    public static boolean isVlanTpid(int type) {
        return type == TPID_8021Q || type == TPID_8021AD || type == TPID_QINQ_LEGACY;
    }
}

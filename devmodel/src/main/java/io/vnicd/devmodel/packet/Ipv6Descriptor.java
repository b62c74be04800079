package io.vnicd.devmodel.packet;

/**
 * Layout of the IPv6 fixed header (RFC 8200 section 3) and of the extension headers the parser walks
 * (section 4: hop-by-hop, routing, fragment, destination options; RFC 4302 for AH).
 *
 * <pre>
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-------+---------------+---------------------------------------+
 * |Version| Traffic Class |           Flow Label                  |
 * +-------+---------------+-------+---------------+---------------+
 * |         Payload Length        |  Next Header  |   Hop Limit   |
 * +-------------------------------+---------------+---------------+
 * |                     Source Address (16 bytes)                 |
 * +---------------------------------------------------------------+
 * |                  Destination Address (16 bytes)               |
 * +---------------------------------------------------------------+
 *
 * generic extension header (hop-by-hop, routing, destination options):
 * +---------------+---------------+-------------------------------+
 * |  Next Header  |  Hdr Ext Len  |  (Hdr Ext Len + 1) * 8 bytes  |
 * +---------------+---------------+-------------------------------+
 * fragment header (8 bytes):
 * +---------------+---------------+-------------------------+-----+
 * |  Next Header  |   Reserved    |    Fragment Offset      |Res|M|
 * +---------------+---------------+-------------------------+-----+
 * |                         Identification                        |
 * +---------------------------------------------------------------+
 * </pre>
 */
public final class Ipv6Descriptor {
    public static final int PAYLOAD_LENGTH_OFFSET = 4;
    public static final int NEXT_HEADER_OFFSET = 6;
    public static final int SRC_OFFSET = 8;
    public static final int DST_OFFSET = 24;
    public static final int HEADER_LENGTH = 40;

    public static final int EXT_NEXT_HEADER_OFFSET = 0;
    public static final int EXT_LENGTH_OFFSET = 1;
    /** Smallest extension header; the fragment header is exactly this long. */
    public static final int EXT_MIN_LENGTH = 8;
    public static final int FRAGMENT_OFFSET_FIELD = 2;
    /** Fragment offset in 8-byte units sits in the top 13 bits of the 16-bit field. */
    public static final int FRAGMENT_OFFSET_SHIFT = 3;

    public static final int HOP_BY_HOP = 0;
    public static final int ROUTING = 43;
    public static final int FRAGMENT = 44;
    public static final int AUTHENTICATION = 51;
    public static final int DESTINATION_OPTIONS = 60;
    /** Longer chains are treated as malformed: this bounds the work spent on a hostile frame. */
    public static final int MAX_EXTENSION_HEADERS = 8;

    private Ipv6Descriptor() {
    }
}

package io.vnicd.devmodel.packet;

/**
 * Layout of an IPv4 header (RFC 791 section 3.1). Options follow the fixed 20 bytes up to IHL * 4.
 *
 * <pre>
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-------+-------+---------------+-------------------------------+
 * |Version|  IHL  |Type of Service|          Total Length         |
 * +-------+-------+---------------+-----+-------------------------+
 * |         Identification        |Flags|      Fragment Offset    |
 * +---------------+---------------+-----+-------------------------+
 * |  Time to Live |    Protocol   |         Header Checksum       |
 * +---------------+---------------+-------------------------------+
 * |                       Source Address                          |
 * +---------------------------------------------------------------+
 * |                    Destination Address                        |
 * +---------------------------------------------------------------+
 * |                    Options (IHL > 5)                          |
 * +---------------------------------------------------------------+
 * </pre>
 */
public final class Ipv4Descriptor {
    public static final int VERSION_IHL_OFFSET = 0;
    public static final int TOTAL_LENGTH_OFFSET = 2;
    public static final int FLAGS_FRAGMENT_OFFSET = 6;
    public static final int PROTOCOL_OFFSET = 9;
    public static final int SRC_OFFSET = 12;
    public static final int DST_OFFSET = 16;
    public static final int MIN_HEADER_LENGTH = 20;

    public static final int MORE_FRAGMENTS = 0x2000;
    public static final int FRAGMENT_OFFSET_MASK = 0x1FFF;

    private Ipv4Descriptor() {
    }
}

package io.vnicd.devmodel.packet;

/**
 * Where TCP, UDP and SCTP keep their ports: the first four bytes of each header, in the same place,
 * which is why one parser step reads all three (RFC 9293 3.1, RFC 768, RFC 9260 3.1).
 *
 * <pre>
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-------------------------------+-------------------------------+
 * |          Source Port          |       Destination Port        |
 * +-------------------------------+-------------------------------+
 * |  rest of the header: TCP 20+ (data offset at byte 12), UDP 8, |
 * |  SCTP 12                                                      |
 * +---------------------------------------------------------------+
 * </pre>
 */
public final class TransportDescriptor {
    public static final int SRC_PORT_OFFSET = 0;
    public static final int DST_PORT_OFFSET = 2;
    public static final int PORTS_LENGTH = 4;
    public static final int TCP_DATA_OFFSET_OFFSET = 12;
    public static final int TCP_MIN_HEADER_LENGTH = 20;
    public static final int UDP_HEADER_LENGTH = 8;
    public static final int SCTP_COMMON_HEADER_LENGTH = 12;

    public static final int PROTO_ICMP = 1;
    public static final int PROTO_TCP = 6;
    public static final int PROTO_UDP = 17;
    public static final int PROTO_ICMPV6 = 58;
    public static final int PROTO_SCTP = 132;

    private TransportDescriptor() {
    }

    /** True for the protocols whose first four bytes are the two ports. */
    public static boolean hasPorts(int protocol) {
        return protocol == PROTO_TCP || protocol == PROTO_UDP || protocol == PROTO_SCTP;
    }
}

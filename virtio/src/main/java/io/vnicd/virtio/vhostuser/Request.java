package io.vnicd.virtio.vhostuser;

/**
 * Front-end message types (vhost-user.rst, "Front-end message types"), with the payload each carries.
 * {@code payload} is the exact size the message must have, or -1 where it varies and is checked by its handler.
 */
public enum Request {
    GET_FEATURES(1, 0, true),
    SET_FEATURES(2, 8, false),
    SET_OWNER(3, 0, false),
    RESET_OWNER(4, 0, false),
    SET_MEM_TABLE(5, -1, false),
    SET_LOG_BASE(6, -1, true),
    SET_LOG_FD(7, 0, false),
    SET_VRING_NUM(8, 8, false),
    SET_VRING_ADDR(9, 40, false),
    SET_VRING_BASE(10, 8, false),
    GET_VRING_BASE(11, 8, true),
    SET_VRING_KICK(12, 8, false),
    SET_VRING_CALL(13, 8, false),
    SET_VRING_ERR(14, 8, false),
    GET_PROTOCOL_FEATURES(15, 0, true),
    SET_PROTOCOL_FEATURES(16, 8, false),
    GET_QUEUE_NUM(17, 0, true),
    SET_VRING_ENABLE(18, 8, false),
    SEND_RARP(19, 8, false),
    NET_SET_MTU(20, 8, false),
    SET_BACKEND_REQ_FD(21, 0, false),
    IOTLB_MSG(22, -1, false),
    SET_VRING_ENDIAN(23, 8, false),
    GET_CONFIG(24, -1, true),
    SET_CONFIG(25, -1, false),
    GET_INFLIGHT_FD(31, -1, true),
    SET_INFLIGHT_FD(32, -1, false),
    RESET_DEVICE(34, 0, false),
    VRING_KICK(35, 8, false),
    GET_MAX_MEM_SLOTS(36, 0, true),
    ADD_MEM_REG(37, -1, false),
    REM_MEM_REG(38, -1, false),
    SET_STATUS(39, 8, false),
    GET_STATUS(40, 0, true);

    private static final Request[] BY_CODE = new Request[64];

    static {
        for (Request r : values()) {
            BY_CODE[r.code] = r;
        }
    }

    /** The request code on the wire. */
    public final int code;
    /** Exact payload size, or -1 when variable. */
    public final int payload;
    /** True when the spec says a reply always follows (not only with REPLY_ACK). */
    public final boolean alwaysReplies;

    Request(int code, int payload, boolean alwaysReplies) {
        this.code = code;
        this.payload = payload;
        this.alwaysReplies = alwaysReplies;
    }

    /** The request with this code, or null for one vnicd does not know. */
    public static Request of(int code) {
        return code >= 0 && code < BY_CODE.length ? BY_CODE[code] : null;
    }
}

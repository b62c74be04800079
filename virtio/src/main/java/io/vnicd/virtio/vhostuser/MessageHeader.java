package io.vnicd.virtio.vhostuser;

/**
 * The header every vhost-user message starts with (vhost-user.rst, "Message Specification"); the payload
 * follows. Integers are in the host's byte order (little-endian here).
 * <pre>
 *  0         4         8         12
 *  +---------+---------+---------+------------------
 *  | request |  flags  |  size   | payload (size bytes)
 *  +---------+---------+---------+------------------
 * flags: bits 0-1 version (1), bit 2 REPLY, bit 3 NEED_REPLY
 * </pre>
 */
public final class MessageHeader {
    public static final int REQUEST_OFFSET = 0;
    public static final int FLAGS_OFFSET = 4;
    public static final int SIZE_OFFSET = 8;
    public static final int LENGTH = 12;

    public static final int VERSION = 0x1;
    public static final int VERSION_MASK = 0x3;
    public static final int REPLY = 0x4;
    public static final int NEED_REPLY = 0x8;

    /**
     * The largest payload vnicd accepts. The largest it understands is SET_MEM_TABLE with 32 regions
     * (8 + 32 * 32 bytes); GET/SET_CONFIG carry at most 256 bytes of config space plus 12.
     */
    public static final int MAX_PAYLOAD = 4096;

    private MessageHeader() {
    }
}

package io.vnicd.virtio.vhostuser;

/**
 * Payload layouts (vhost-user.rst, "Message Specification"); offsets from the start of the payload.
 * <pre>
 * u64 (features, status, ...)         vring state (SET_VRING_NUM/BASE, GET_VRING_BASE, SET_VRING_ENABLE)
 *  0          8                        0       4       8
 *  +----------+                        +-------+-------+
 *  |  value   |                        | index |  num  |
 *  +----------+                        +-------+-------+
 *
 * vring address (SET_VRING_ADDR), 40 bytes
 *  0       4       8            16           24           32           40
 *  +-------+-------+------------+------------+------------+------------+
 *  | index | flags | descriptor |    used    | available  |    log     |
 *  +-------+-------+------------+------------+------------+------------+
 *
 * memory table (SET_MEM_TABLE): 8-byte head, then num regions of 32 bytes, one fd per region
 *  0       4         8
 *  +-------+---------+----------------------------------------------------+
 *  |  num  | padding | guest_addr u64 | size u64 | user_addr u64 | mmap_offset u64 | ...
 *  +-------+---------+----------------------------------------------------+
 *
 * vring fd (SET_VRING_KICK/CALL/ERR), u64: bits 0-7 index, bit 8 set when no fd is passed (polling)
 * </pre>
 */
public final class Payloads {
    public static final int U64 = 8;

    public static final int STATE_INDEX = 0;
    public static final int STATE_NUM = 4;

    public static final int ADDR_INDEX = 0;
    public static final int ADDR_FLAGS = 4;
    public static final int ADDR_DESC = 8;
    public static final int ADDR_USED = 16;
    public static final int ADDR_AVAIL = 24;
    public static final int ADDR_LOG = 32;
    /** vring address flags bit 0: the log address is valid (dirty logging for migration). */
    public static final int ADDR_F_LOG = 0x1;

    public static final int MEM_NUM = 0;
    public static final int MEM_REGIONS = 8;
    public static final int MEM_REGION_SIZE = 32;
    public static final int REGION_GUEST_ADDR = 0;
    public static final int REGION_SIZE = 8;
    public static final int REGION_USER_ADDR = 16;
    public static final int REGION_MMAP_OFFSET = 24;
    /** The most regions vnicd maps from one SET_MEM_TABLE. */
    public static final int MAX_REGIONS = 32;
    /** Memory slots offered with CONFIGURE_MEM_SLOTS (GET_MAX_MEM_SLOTS), as libvhost-user and rust-vmm offer. */
    public static final int MAX_MEM_SLOTS = 509;

    public static final long VRING_INDEX_MASK = 0xff;
    public static final long VRING_NOFD = 0x100;

    private Payloads() {
    }
}

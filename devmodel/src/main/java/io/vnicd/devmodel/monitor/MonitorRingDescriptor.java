package io.vnicd.devmodel.monitor;

/**
 * Layout of a monitor ring: a shared-memory file (by default /dev/shm/vnicd-monitor-&lt;name&gt;) that the
 * data path copies matching frames into and a capture process, attached by path, reads. All integers are
 * little-endian (the host's order); positions only grow, slot = position &amp; (slot count - 1).
 *
 * <pre>
 *  0               4               8               12              16
 * +---------------+---------------+---------------+---------------+
 * | magic 'VMON'  |   version     |  slot count   |  snap length  |  header, written once
 * +---------------+---------------+---------------+---------------+
 * |  slot size    |             ... padding to 128 ...            |
 * +---------------------------------------------------------------+ 128
 * | producer position (long)      | dropped: ring full (long)     |  written by the data path
 * +---------------------------------------------------------------+ 256
 * | consumer position (long)                                      |  written by the capture reader
 * +---------------------------------------------------------------+ 384
 * | slot 0 | slot 1 | ... (slot size each)                         |
 * +---------------------------------------------------------------+
 *
 * slot:
 *  0               8               16              20              24
 * +---------------+---------------+---------------+---------------+--------------------+
 * |  sequence     | timestamp ns  | original len  | captured len  | captured bytes ... |
 * |  (long)       | since epoch   |    (int)      |    (int)      | (snap length max)  |
 * +---------------+---------------+---------------+---------------+--------------------+
 * </pre>
 *
 * A slot's sequence says who may use it next: position for a producer claiming it (by CAS on the producer
 * position), position + 1 once its record is written and the reader may take it. The slot size is
 * 24 + snap length rounded up to 64.
 */
public final class MonitorRingDescriptor {
    public static final int MAGIC = 0x4e4f4d56; // "VMON" little-endian
    public static final int VERSION = 1;

    public static final long MAGIC_OFFSET = 0;
    public static final long VERSION_OFFSET = 4;
    public static final long SLOT_COUNT_OFFSET = 8;
    public static final long SNAP_LENGTH_OFFSET = 12;
    public static final long SLOT_SIZE_OFFSET = 16;
    public static final long PRODUCER_POSITION_OFFSET = 128;
    public static final long DROPPED_OFFSET = 136;
    public static final long CONSUMER_POSITION_OFFSET = 256;
    public static final long SLOTS_OFFSET = 384;

    public static final long SLOT_SEQUENCE = 0;
    public static final long SLOT_TIMESTAMP = 8;
    public static final long SLOT_ORIGINAL_LENGTH = 16;
    public static final long SLOT_CAPTURED_LENGTH = 20;
    public static final long SLOT_DATA = 24;

    public static final int MAX_SLOTS = 1 << 20;
    public static final int MAX_SNAP_LENGTH = 65535;

    private MonitorRingDescriptor() {
    }

    public static int slotSize(int snapLength) {
        return (int) ((SLOT_DATA + snapLength + 63) & -64L);
    }

    public static void check(int slotCount, int snapLength) {
        if (slotCount < 2 || slotCount > MAX_SLOTS || Integer.bitCount(slotCount) != 1) {
            throw new IllegalArgumentException("slot count must be a power of two in [2, " + MAX_SLOTS + "]: " + slotCount);
        }
        if (snapLength < 14 || snapLength > MAX_SNAP_LENGTH) {
            throw new IllegalArgumentException("snap length must be in [14, " + MAX_SNAP_LENGTH + "]: " + snapLength);
        }
    }

    /** Bytes a monitor ring needs. */
    public static long byteSize(int slotCount, int snapLength) {
        check(slotCount, snapLength);
        return SLOTS_OFFSET + (long) slotCount * slotSize(snapLength);
    }
}

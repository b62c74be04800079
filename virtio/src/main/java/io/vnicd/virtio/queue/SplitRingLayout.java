package io.vnicd.virtio.queue;

/**
 * Offsets of the split virtqueue's three areas (virtio 1.2 section 2.7), all little-endian.
 * <pre>
 * Descriptor table (16-byte aligned), size entries:
 *   0               8               12      14      16
 *   +---------------+---------------+-------+-------+
 *   | addr (u64)    | len (u32)     | flags | next  |
 *   +---------------+---------------+-------+-------+
 * Available ring (2-byte aligned):
 *   +-------+-------+-----------------------+------------+
 *   | flags | idx   | ring[size] (u16 each) | used_event |
 *   +-------+-------+-----------------------+------------+
 * Used ring (4-byte aligned):
 *   +-------+-------+--------------------------------------+-------------+
 *   | flags | idx   | ring[size] {id u32, len u32}         | avail_event |
 *   +-------+-------+--------------------------------------+-------------+
 * </pre>
 */
public final class SplitRingLayout {
    public static final int DESC_SIZE = 16;
    public static final int DESC_ADDR = 0;
    public static final int DESC_LEN = 8;
    public static final int DESC_FLAGS = 12;
    public static final int DESC_NEXT = 14;

    /** Section 2.7.5: the buffer continues in the descriptor named by next. */
    public static final int F_NEXT = 1;
    /** The buffer is write-only for the device. */
    public static final int F_WRITE = 2;
    /** Section 2.7.5.3: the buffer holds a table of descriptors (VIRTIO_F_INDIRECT_DESC). */
    public static final int F_INDIRECT = 4;

    public static final int AVAIL_FLAGS = 0;
    public static final int AVAIL_IDX = 2;
    public static final int AVAIL_RING = 4;
    /** Section 2.7.7: the driver asks for no interrupts (without VIRTIO_F_EVENT_IDX). */
    public static final int AVAIL_F_NO_INTERRUPT = 1;

    public static final int USED_FLAGS = 0;
    public static final int USED_IDX = 2;
    public static final int USED_RING = 4;
    public static final int USED_ELEM_SIZE = 8;
    /** Section 2.7.10: the device asks for no kicks (without VIRTIO_F_EVENT_IDX). */
    public static final int USED_F_NO_NOTIFY = 1;

    /** Largest queue the split format allows (section 2.7). */
    public static final int MAX_SIZE = 32768;

    private SplitRingLayout() {
    }

    public static long descTableBytes(int size) {
        return (long) DESC_SIZE * size;
    }

    /** Includes used_event: present whether or not EVENT_IDX is negotiated. */
    public static long availBytes(int size) {
        return AVAIL_RING + 2L * size + 2;
    }

    /** Includes avail_event. */
    public static long usedBytes(int size) {
        return USED_RING + (long) USED_ELEM_SIZE * size + 2;
    }

    public static long usedEventOffset(int size) {
        return AVAIL_RING + 2L * size;
    }

    public static long availEventOffset(int size) {
        return USED_RING + (long) USED_ELEM_SIZE * size;
    }
}

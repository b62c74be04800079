package io.vnicd.devmodel.proxy;

/**
 * The layout of a channel between two daemons: one memory region (a memfd the creating side hands over a unix
 * socket) holding two single-producer single-consumer rings of frame slots, one per direction. Positions only grow;
 * a slot is position &amp; (slots - 1). Each side's positions sit on their own 128-byte blocks.
 * <pre>
 *  0          4          8          12         16
 *  +----------+----------+----------+----------+
 *  | magic    | version  | slots    | slotSize |   header, written once by the creator
 *  +----------+----------+----------+----------+
 *  ... to 128
 *  ring 0 (creator to joiner) at RING0, ring 1 (joiner to creator) at RING0 + ringBytes:
 *  +0    producer position (long)                 written by the ring's producer
 *  +128  consumer position (long)                 written by the ring's consumer
 *  +136  consumer asleep (int): 1 = signal me     written by the consumer, read by the producer
 *  +256  slots: slots x slotSize, each:
 *        0 length (int)  4 vlan (int)  8 frame (length bytes, at most slotSize - 8)
 * </pre>
 * The other side is not trusted: a consumer checks every position and length it reads from the region against
 * the layout before it uses it, and keeps its own positions privately (what it reads of its own back from the
 * region is never used).
 */
public final class ChannelLayout {
    public static final int MAGIC = 0x48434e56; // "VNCH" little-endian
    public static final int VERSION = 1;
    public static final long MAGIC_OFFSET = 0;
    public static final long VERSION_OFFSET = 4;
    public static final long SLOTS_OFFSET = 8;
    public static final long SLOT_SIZE_OFFSET = 12;
    public static final long RING0 = 128;
    public static final long PRODUCER = 0;
    public static final long CONSUMER = 128;
    public static final long ASLEEP = 136;
    public static final long SLOTS = 256;
    public static final int SLOT_HEADER = 8;
    public static final int MAX_SLOTS = 1 << 16;
    public static final int MIN_SLOT_SIZE = 128;
    public static final int MAX_SLOT_SIZE = 1 << 17;

    private ChannelLayout() {
    }

    /** Bytes one ring takes. */
    public static long ringBytes(int slots, int slotSize) {
        return SLOTS + (long) slots * slotSize;
    }

    /** Bytes a channel of two rings takes. */
    public static long byteSize(int slots, int slotSize) {
        check(slots, slotSize);
        return RING0 + 2 * ringBytes(slots, slotSize);
    }

    /** Where ring (0 or 1) starts. */
    public static long ring(int ring, int slots, int slotSize) {
        return RING0 + ring * ringBytes(slots, slotSize);
    }

    /** Refuses a geometry the layout does not allow (a power of two of slots, slots of 128 bytes to 128 KiB, 8-aligned). */
    public static void check(int slots, int slotSize) {
        if (slots < 2 || slots > MAX_SLOTS || Integer.bitCount(slots) != 1) {
            throw new IllegalArgumentException("channel slots must be a power of two in 2.." + MAX_SLOTS + ", not " + slots);
        }
        if (slotSize < MIN_SLOT_SIZE || slotSize > MAX_SLOT_SIZE || slotSize % 8 != 0) {
            throw new IllegalArgumentException("channel slot size must be a multiple of 8 in " + MIN_SLOT_SIZE + ".."
                    + MAX_SLOT_SIZE + ", not " + slotSize);
        }
    }
}

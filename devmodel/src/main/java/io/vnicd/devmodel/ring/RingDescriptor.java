package io.vnicd.devmodel.ring;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * Layout of a ring of long entries in memory that may be shared with another process (memfd or a
 * /dev/shm file). Producer and consumer positions sit on their own 128-byte blocks so the two sides do
 * not share a cache line (nor the adjacent line the prefetcher pulls in).
 *
 * <pre>
 *  0               4               8               12              16
 * +---------------+---------------+---------------+---------------+
 * | magic 'VRNG'  |   version     |   capacity    |  kind (1|2)   |  header, read-mostly
 * +---------------+---------------+---------------+---------------+
 * |                      ... padding to 128 ...                   |
 * +---------------------------------------------------------------+ 128
 * | tail: producer position (long) | full drops (long)            |  written by producers
 * +---------------------------------------------------------------+ 256
 * | head: consumer position (long)                                 |  written by the consumer
 * +---------------------------------------------------------------+ 384
 * | slots: capacity x slot size                                    |
 * |   one-to-one:  [entry (long)]                      8 bytes     |
 * |   many-to-one: [sequence (long)][entry (long)]     16 bytes    |
 * +---------------------------------------------------------------+
 * </pre>
 *
 * Positions only grow; slot = position &amp; (capacity - 1). Enqueued = tail, offered = tail + full drops.
 * A many-to-one slot's sequence says who may use it next (Vyukov's bounded queue): position for a
 * producer, position + 1 for the consumer.
 */
public final class RingDescriptor {
    public static final int MAGIC = 0x474e5256; // "VRNG" little-endian
    public static final int VERSION = 1;
    public static final int KIND_ONE_TO_ONE = 1;
    public static final int KIND_MANY_TO_ONE = 2;

    public static final long MAGIC_OFFSET = 0;
    public static final long VERSION_OFFSET = 4;
    public static final long CAPACITY_OFFSET = 8;
    public static final long KIND_OFFSET = 12;
    public static final long TAIL_OFFSET = 128;
    public static final long FULL_DROPS_OFFSET = 136;
    public static final long HEAD_OFFSET = 256;
    public static final long SLOTS_OFFSET = 384;
    public static final int MAX_CAPACITY = 1 << 28;

    private RingDescriptor() {
    }

    public static long slotSize(int kind) {
        return kind == KIND_MANY_TO_ONE ? 16 : 8;
    }

    /** Bytes a ring of this kind and capacity needs. */
    public static long byteSize(int kind, int capacity) {
        checkCapacity(capacity);
        return SLOTS_OFFSET + capacity * slotSize(kind);
    }

    public static void checkCapacity(int capacity) {
        if (capacity < 2 || capacity > MAX_CAPACITY || Integer.bitCount(capacity) != 1) {
            throw new IllegalArgumentException("ring capacity must be a power of two in [2, " + MAX_CAPACITY + "]: " + capacity);
        }
    }

    /** Writes a fresh header (positions zero) into memory large enough for the ring. */
    static void format(MemorySegment memory, int kind, int capacity) {
        long needed = byteSize(kind, capacity);
        if (memory.byteSize() < needed) {
            throw new IllegalArgumentException("ring of " + capacity + " needs " + needed + " bytes, memory has " + memory.byteSize());
        }
        memory.asSlice(0, SLOTS_OFFSET).fill((byte) 0);
        memory.set(ValueLayout.JAVA_INT, VERSION_OFFSET, VERSION);
        memory.set(ValueLayout.JAVA_INT, CAPACITY_OFFSET, capacity);
        memory.set(ValueLayout.JAVA_INT, KIND_OFFSET, kind);
        // Magic last: an attaching process that sees it sees a complete header.
        RingMemory.INT.setRelease(memory, MAGIC_OFFSET, MAGIC);
    }

    /** Validates the header written by {@link #format} and returns the capacity. */
    static int validate(MemorySegment memory, int kind) {
        if (memory.byteSize() < SLOTS_OFFSET) {
            throw new IllegalArgumentException("memory too small for a ring header: " + memory.byteSize());
        }
        int magic = (int) RingMemory.INT.getAcquire(memory, MAGIC_OFFSET);
        if (magic != MAGIC) {
            throw new IllegalArgumentException("not a vnicd ring (magic 0x" + Integer.toHexString(magic) + ")");
        }
        int version = memory.get(ValueLayout.JAVA_INT, VERSION_OFFSET);
        if (version != VERSION) {
            throw new IllegalArgumentException("ring version " + version + ", expected " + VERSION);
        }
        int actualKind = memory.get(ValueLayout.JAVA_INT, KIND_OFFSET);
        if (actualKind != kind) {
            throw new IllegalArgumentException("ring kind " + actualKind + ", expected " + kind);
        }
        int capacity = memory.get(ValueLayout.JAVA_INT, CAPACITY_OFFSET);
        long needed = byteSize(kind, capacity);
        if (memory.byteSize() < needed) {
            throw new IllegalArgumentException("ring of " + capacity + " needs " + needed + " bytes, memory has " + memory.byteSize());
        }
        return capacity;
    }
}

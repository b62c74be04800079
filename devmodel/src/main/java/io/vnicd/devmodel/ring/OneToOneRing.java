package io.vnicd.devmodel.ring;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static io.vnicd.devmodel.ring.RingDescriptor.FULL_DROPS_OFFSET;
import static io.vnicd.devmodel.ring.RingDescriptor.HEAD_OFFSET;
import static io.vnicd.devmodel.ring.RingDescriptor.KIND_ONE_TO_ONE;
import static io.vnicd.devmodel.ring.RingDescriptor.SLOTS_OFFSET;
import static io.vnicd.devmodel.ring.RingDescriptor.TAIL_OFFSET;
import static io.vnicd.devmodel.ring.RingMemory.LONG;

/**
 * A bounded ring of long entries with exactly one producer thread and one consumer thread, which may live
 * in different processes when the memory is shared ({@link #create}/{@link #attach} on a memfd or /dev/shm
 * mapping, layout in {@link RingDescriptor}). Lock-free and allocation-free: a full ring refuses the entry
 * and counts a full drop; the caller keeps ownership of what the entry refers to (e.g. releases the buffer).
 *
 * <p>Each side caches the other side's position in a plain field, so an offer or poll touches the shared
 * position line only when the cached value says the ring looks full or empty.
 */
public final class OneToOneRing {
    private final MemorySegment memory;
    private final int capacity;
    private final long mask;
    private long producerCachedHead;
    private long consumerCachedTail;

    private OneToOneRing(MemorySegment memory, int capacity) {
        this.memory = memory;
        this.capacity = capacity;
        this.mask = capacity - 1L;
    }

    /** A ring in memory private to this process. */
    public static OneToOneRing allocate(int capacity) {
        return create(RingMemory.privateMemory(RingDescriptor.byteSize(KIND_ONE_TO_ONE, capacity)), capacity);
    }

    /** Formats memory (e.g. a shared mapping) as an empty ring; another process may then {@link #attach} it. */
    public static OneToOneRing create(MemorySegment memory, int capacity) {
        RingDescriptor.format(memory, KIND_ONE_TO_ONE, capacity);
        return new OneToOneRing(memory, capacity);
    }

    /** Attaches to a ring formatted by {@link #create}, possibly in another process; positions are kept. */
    public static OneToOneRing attach(MemorySegment memory) {
        int capacity = RingDescriptor.validate(memory, KIND_ONE_TO_ONE);
        OneToOneRing ring = new OneToOneRing(memory, capacity);
        ring.producerCachedHead = (long) LONG.getAcquire(memory, HEAD_OFFSET);
        ring.consumerCachedTail = (long) LONG.getAcquire(memory, TAIL_OFFSET);
        return ring;
    }

    /** Producer side. False (and a counted full drop) when the ring is full. */
    public boolean offer(long entry) {
        if (entry == RingEntry.NONE) {
            throw new IllegalArgumentException("RingEntry.NONE cannot be enqueued");
        }
        final MemorySegment memory = this.memory;
        final long tail = memory.get(ValueLayout.JAVA_LONG, TAIL_OFFSET);
        if (tail - producerCachedHead >= capacity) {
            producerCachedHead = (long) LONG.getAcquire(memory, HEAD_OFFSET);
            if (tail - producerCachedHead >= capacity) {
                long drops = memory.get(ValueLayout.JAVA_LONG, FULL_DROPS_OFFSET);
                LONG.setOpaque(memory, FULL_DROPS_OFFSET, drops + 1);
                return false;
            }
        }
        memory.set(ValueLayout.JAVA_LONG, SLOTS_OFFSET + ((tail & mask) << 3), entry);
        LONG.setRelease(memory, TAIL_OFFSET, tail + 1);
        return true;
    }

    /** Consumer side. The oldest entry, or {@link RingEntry#NONE} when the ring is empty. */
    public long poll() {
        final MemorySegment memory = this.memory;
        final long head = memory.get(ValueLayout.JAVA_LONG, HEAD_OFFSET);
        if (head >= consumerCachedTail) {
            consumerCachedTail = (long) LONG.getAcquire(memory, TAIL_OFFSET);
            if (head >= consumerCachedTail) {
                return RingEntry.NONE;
            }
        }
        long entry = memory.get(ValueLayout.JAVA_LONG, SLOTS_OFFSET + ((head & mask) << 3));
        LONG.setRelease(memory, HEAD_OFFSET, head + 1);
        return entry;
    }

    /** Consumer side: hands up to limit entries to handler, returns how many (0 when empty). */
    public int drain(EntryHandler handler, int limit) {
        final MemorySegment memory = this.memory;
        final long head = memory.get(ValueLayout.JAVA_LONG, HEAD_OFFSET);
        long available = consumerCachedTail - head;
        if (available < limit) {
            consumerCachedTail = (long) LONG.getAcquire(memory, TAIL_OFFSET);
            available = consumerCachedTail - head;
        }
        int count = (int) Math.min(available, limit);
        for (int i = 0; i < count; i++) {
            handler.onEntry(memory.get(ValueLayout.JAVA_LONG, SLOTS_OFFSET + (((head + i) & mask) << 3)));
        }
        if (count > 0) {
            LONG.setRelease(memory, HEAD_OFFSET, head + count);
        }
        return count;
    }

    public int capacity() {
        return capacity;
    }

    /** Entries waiting; exact only when neither side is moving. */
    public int size() {
        long head = (long) LONG.getAcquire(memory, HEAD_OFFSET);
        long tail = (long) LONG.getAcquire(memory, TAIL_OFFSET);
        return (int) Math.max(0, tail - head);
    }

    /** Entries accepted since the ring was created. */
    public long enqueued() {
        return (long) LONG.getAcquire(memory, TAIL_OFFSET);
    }

    /** Entries refused because the ring was full. */
    public long fullDrops() {
        return (long) LONG.getOpaque(memory, FULL_DROPS_OFFSET);
    }

    /** Entries producers tried to enqueue: accepted plus refused. */
    public long offered() {
        return fullDrops() + enqueued();
    }

    /** Entries taken by the consumer. */
    public long dequeued() {
        return (long) LONG.getAcquire(memory, HEAD_OFFSET);
    }
}

package io.vnicd.devmodel.ring;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static io.vnicd.devmodel.ring.RingDescriptor.FULL_DROPS_OFFSET;
import static io.vnicd.devmodel.ring.RingDescriptor.HEAD_OFFSET;
import static io.vnicd.devmodel.ring.RingDescriptor.KIND_MANY_TO_ONE;
import static io.vnicd.devmodel.ring.RingDescriptor.SLOTS_OFFSET;
import static io.vnicd.devmodel.ring.RingDescriptor.TAIL_OFFSET;
import static io.vnicd.devmodel.ring.RingMemory.LONG;

/**
 * A bounded ring of long entries fed by any number of producer threads and drained by one consumer: what a
 * hardware receive ring is when several PF pollers classify into it. Lock-free (producers claim a slot by
 * CAS on the tail) and allocation-free. Each slot carries a sequence number (Vyukov's bounded queue, layout
 * in {@link RingDescriptor}) so the consumer never reads a slot whose producer has claimed but not yet
 * written it. A full ring refuses the entry and counts a full drop; the caller keeps what the entry refers to.
 */
public final class ManyToOneRing {
    private final MemorySegment memory;
    private final int capacity;
    private final long mask;

    private ManyToOneRing(MemorySegment memory, int capacity) {
        this.memory = memory;
        this.capacity = capacity;
        this.mask = capacity - 1L;
    }

    /** A ring in memory private to this process. */
    public static ManyToOneRing allocate(int capacity) {
        return create(RingMemory.privateMemory(RingDescriptor.byteSize(KIND_MANY_TO_ONE, capacity)), capacity);
    }

    /** Formats memory as an empty ring; another process may then {@link #attach} it. */
    public static ManyToOneRing create(MemorySegment memory, int capacity) {
        if (memory.byteSize() < RingDescriptor.byteSize(KIND_MANY_TO_ONE, capacity)) {
            throw new IllegalArgumentException("ring of " + capacity + " needs "
                    + RingDescriptor.byteSize(KIND_MANY_TO_ONE, capacity) + " bytes, memory has " + memory.byteSize());
        }
        for (long i = 0; i < capacity; i++) {
            memory.set(ValueLayout.JAVA_LONG, SLOTS_OFFSET + (i << 4), i);
        }
        // The header (magic written last, with release) publishes the slot sequences too.
        RingDescriptor.format(memory, KIND_MANY_TO_ONE, capacity);
        return new ManyToOneRing(memory, capacity);
    }

    /** Attaches to a ring formatted by {@link #create}, possibly in another process. */
    public static ManyToOneRing attach(MemorySegment memory) {
        return new ManyToOneRing(memory, RingDescriptor.validate(memory, KIND_MANY_TO_ONE));
    }

    /** Producer side, any thread. False (and a counted full drop) when the ring is full. */
    public boolean offer(long entry) {
        if (entry == RingEntry.NONE) {
            throw new IllegalArgumentException("RingEntry.NONE cannot be enqueued");
        }
        final MemorySegment memory = this.memory;
        long tail = (long) LONG.getVolatile(memory, TAIL_OFFSET);
        while (true) {
            long slot = SLOTS_OFFSET + ((tail & mask) << 4);
            long sequence = (long) LONG.getAcquire(memory, slot);
            long difference = sequence - tail;
            if (difference == 0) {
                if (LONG.compareAndSet(memory, TAIL_OFFSET, tail, tail + 1)) {
                    memory.set(ValueLayout.JAVA_LONG, slot + 8, entry);
                    LONG.setRelease(memory, slot, tail + 1);
                    return true;
                }
                tail = (long) LONG.getVolatile(memory, TAIL_OFFSET);
            } else if (difference < 0) {
                // The slot still holds the entry from one lap ago: the consumer has not taken it, the ring is full.
                LONG.getAndAdd(memory, FULL_DROPS_OFFSET, 1L);
                return false;
            } else {
                tail = (long) LONG.getVolatile(memory, TAIL_OFFSET);
            }
        }
    }

    /** Consumer side. The oldest entry, or {@link RingEntry#NONE} when none is ready. */
    public long poll() {
        final MemorySegment memory = this.memory;
        long head = memory.get(ValueLayout.JAVA_LONG, HEAD_OFFSET);
        long slot = SLOTS_OFFSET + ((head & mask) << 4);
        if ((long) LONG.getAcquire(memory, slot) != head + 1) {
            return RingEntry.NONE;
        }
        long entry = memory.get(ValueLayout.JAVA_LONG, slot + 8);
        LONG.setRelease(memory, slot, head + capacity);
        LONG.setRelease(memory, HEAD_OFFSET, head + 1);
        return entry;
    }

    /** Consumer side: hands up to limit ready entries to handler, returns how many. */
    public int drain(EntryHandler handler, int limit) {
        final MemorySegment memory = this.memory;
        final long head = memory.get(ValueLayout.JAVA_LONG, HEAD_OFFSET);
        int count = 0;
        while (count < limit) {
            long position = head + count;
            long slot = SLOTS_OFFSET + ((position & mask) << 4);
            if ((long) LONG.getAcquire(memory, slot) != position + 1) {
                break;
            }
            long entry = memory.get(ValueLayout.JAVA_LONG, slot + 8);
            LONG.setRelease(memory, slot, position + capacity);
            count++;
            handler.onEntry(entry);
        }
        if (count > 0) {
            LONG.setRelease(memory, HEAD_OFFSET, head + count);
        }
        return count;
    }

    public int capacity() {
        return capacity;
    }

    /** Entries claimed and not yet taken; exact only when no side is moving. */
    public int size() {
        long head = (long) LONG.getAcquire(memory, HEAD_OFFSET);
        long tail = (long) LONG.getAcquire(memory, TAIL_OFFSET);
        return (int) Math.max(0, tail - head);
    }

    public long enqueued() {
        return (long) LONG.getAcquire(memory, TAIL_OFFSET);
    }

    public long fullDrops() {
        return (long) LONG.getVolatile(memory, FULL_DROPS_OFFSET);
    }

    public long offered() {
        return fullDrops() + enqueued();
    }

    public long dequeued() {
        return (long) LONG.getAcquire(memory, HEAD_OFFSET);
    }
}

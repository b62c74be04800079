package io.vnicd.devmodel.pool;

import io.vnicd.devmodel.ring.RingMemory;
import io.vnicd.nativeio.NativeException;
import io.vnicd.nativeio.SharedMemory;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.util.concurrent.locks.LockSupport;

import static io.vnicd.devmodel.pool.PoolDescriptor.BUFFER_COUNT_OFFSET;
import static io.vnicd.devmodel.pool.PoolDescriptor.BUFFER_SIZE_OFFSET;
import static io.vnicd.devmodel.pool.PoolDescriptor.DROPS;
import static io.vnicd.devmodel.pool.PoolDescriptor.FREE_HEAD_OFFSET;
import static io.vnicd.devmodel.pool.PoolDescriptor.GRANTS;
import static io.vnicd.devmodel.pool.PoolDescriptor.IN_USE;
import static io.vnicd.devmodel.pool.PoolDescriptor.MAGIC;
import static io.vnicd.devmodel.pool.PoolDescriptor.MAGIC_OFFSET;
import static io.vnicd.devmodel.pool.PoolDescriptor.MAX_TARGETS_OFFSET;
import static io.vnicd.devmodel.pool.PoolDescriptor.PEAK;
import static io.vnicd.devmodel.pool.PoolDescriptor.QUOTA;
import static io.vnicd.devmodel.pool.PoolDescriptor.VERSION;
import static io.vnicd.devmodel.pool.PoolDescriptor.VERSION_OFFSET;
import static io.vnicd.devmodel.pool.PoolDescriptor.WAITS;
import static io.vnicd.devmodel.pool.PoolDescriptor.WAIT_NANOS;

/**
 * Fixed-size packet buffers in shared memory, handed out against per-target quotas (US8392565). A request
 * names its target (VF/VNIC id); within the target's quota it is granted and the target's usage grows;
 * over quota the requester waits, up to the time it gave, for its own target's buffers to come back, and
 * then gives up with a counted drop. Quotas together may not exceed the pool, so a target within its
 * quota always finds a free buffer: one target waiting or flooding never starves another.
 *
 * <p>Lock-free and allocation-free: usage is reserved by CAS on the target's counter before a buffer is
 * popped from a tagged (ABA-safe) free list, and a release pushes the buffer back before it lowers usage,
 * so the number of buffers taken never exceeds the number reserved. Frames are read and written through
 * {@link #memory()} at {@link #offset(int)}, which creates no slice objects.
 */
public final class BufferPool implements AutoCloseable {
    private static final VarHandle LONG = RingMemory.LONG;
    private static final VarHandle INT = RingMemory.INT;
    private static final int FREE = -1;
    private static final int SPINS = 64;
    private static final int YIELDS = 64;
    private static final long PARK_NANOS = 20_000;

    private final SharedMemory shared;
    private final MemorySegment memory;
    private final int bufferSize;
    private final int bufferCount;
    private final int maxTargets;
    private final long ownersOffset;
    private final long nextOffset;
    private final long buffersOffset;
    private long quotaTotal;
    private int boundNode = -1;

    private BufferPool(SharedMemory shared, MemorySegment memory, int bufferSize, int bufferCount, int maxTargets) {
        this.shared = shared;
        this.memory = memory;
        this.bufferSize = bufferSize;
        this.bufferCount = bufferCount;
        this.maxTargets = maxTargets;
        this.ownersOffset = PoolDescriptor.ownersOffset(maxTargets);
        this.nextOffset = PoolDescriptor.nextOffset(bufferCount, maxTargets);
        this.buffersOffset = PoolDescriptor.buffersOffset(bufferCount, maxTargets);
    }

    /** A pool in a new memfd (its fd, {@link #fd()}, can be passed to a process that maps the buffers). */
    public static BufferPool create(String name, int bufferSize, int bufferCount, int maxTargets) throws NativeException {
        SharedMemory shared = SharedMemory.create("vnicd-pool-" + name, PoolDescriptor.byteSize(bufferSize, bufferCount, maxTargets));
        try {
            return format(shared, shared.segment(), bufferSize, bufferCount, maxTargets);
        } catch (RuntimeException e) {
            shared.close();
            throw e;
        }
    }

    /**
     * As {@link #create(String, int, int, int)}, with the memory placed on NUMA node before it is first touched
     * (mbind, MPOL_PREFERRED). Where the kernel refuses (a node this machine does not have), the pool is made
     * anyway and {@link #boundNode()} says -1.
     */
    public static BufferPool createOnNode(String name, int bufferSize, int bufferCount, int maxTargets, int node)
            throws NativeException {
        SharedMemory shared = SharedMemory.create("vnicd-pool-" + name, PoolDescriptor.byteSize(bufferSize, bufferCount, maxTargets));
        boolean bound;
        try {
            io.vnicd.nativeio.LibC.mbindPreferred(shared.segment(), node);
            bound = true;
        } catch (NativeException e) {
            bound = false;
        }
        try {
            BufferPool pool = format(shared, shared.segment(), bufferSize, bufferCount, maxTargets);
            pool.boundNode = bound ? node : -1;
            return pool;
        } catch (RuntimeException e) {
            shared.close();
            throw e;
        }
    }

    /** The NUMA node the pool's memory was placed on by {@link #createOnNode}, or -1. */
    public int boundNode() {
        return boundNode;
    }

    /** Formats memory someone else owns (a /dev/shm mapping, a hugetlbfs file) as an empty pool. */
    public static BufferPool create(MemorySegment memory, int bufferSize, int bufferCount, int maxTargets) {
        return format(null, memory, bufferSize, bufferCount, maxTargets);
    }

    /**
     * Attaches to a pool formatted by {@link #create}, e.g. a tool that mapped the daemon's memfd to read
     * counters, or a process that fills buffers the daemon hands it. Quotas set here are checked against
     * the quotas already in memory.
     */
    public static BufferPool attach(MemorySegment memory) {
        if (memory.byteSize() < PoolDescriptor.TARGETS_OFFSET) {
            throw new IllegalArgumentException("memory too small for a pool header: " + memory.byteSize());
        }
        int magic = (int) INT.getAcquire(memory, MAGIC_OFFSET);
        if (magic != MAGIC) {
            throw new IllegalArgumentException("not a vnicd buffer pool (magic 0x" + Integer.toHexString(magic) + ")");
        }
        int version = memory.get(ValueLayout.JAVA_INT, VERSION_OFFSET);
        if (version != VERSION) {
            throw new IllegalArgumentException("pool version " + version + ", expected " + VERSION);
        }
        int bufferSize = memory.get(ValueLayout.JAVA_INT, BUFFER_SIZE_OFFSET);
        int bufferCount = memory.get(ValueLayout.JAVA_INT, BUFFER_COUNT_OFFSET);
        int maxTargets = memory.get(ValueLayout.JAVA_INT, MAX_TARGETS_OFFSET);
        long needed = PoolDescriptor.byteSize(bufferSize, bufferCount, maxTargets);
        if (memory.byteSize() < needed) {
            throw new IllegalArgumentException("pool needs " + needed + " bytes, memory has " + memory.byteSize());
        }
        BufferPool pool = new BufferPool(null, memory, bufferSize, bufferCount, maxTargets);
        for (int target = 0; target < maxTargets; target++) {
            pool.quotaTotal += pool.quota(target);
        }
        return pool;
    }

    private static BufferPool format(SharedMemory shared, MemorySegment memory, int bufferSize, int bufferCount, int maxTargets) {
        long needed = PoolDescriptor.byteSize(bufferSize, bufferCount, maxTargets);
        if (memory.byteSize() < needed) {
            throw new IllegalArgumentException("pool needs " + needed + " bytes, memory has " + memory.byteSize());
        }
        BufferPool pool = new BufferPool(shared, memory, bufferSize, bufferCount, maxTargets);
        memory.asSlice(0, pool.nextOffset).fill((byte) 0);
        for (int i = 0; i < bufferCount; i++) {
            memory.set(ValueLayout.JAVA_INT, pool.ownersOffset + 4L * i, FREE);
            memory.set(ValueLayout.JAVA_INT, pool.nextOffset + 4L * i, i + 1 < bufferCount ? i + 1 : FREE);
        }
        memory.set(ValueLayout.JAVA_LONG, FREE_HEAD_OFFSET, 0L);
        memory.set(ValueLayout.JAVA_INT, VERSION_OFFSET, VERSION);
        memory.set(ValueLayout.JAVA_INT, BUFFER_SIZE_OFFSET, bufferSize);
        memory.set(ValueLayout.JAVA_INT, BUFFER_COUNT_OFFSET, bufferCount);
        memory.set(ValueLayout.JAVA_INT, MAX_TARGETS_OFFSET, maxTargets);
        INT.setRelease(memory, MAGIC_OFFSET, MAGIC);
        return pool;
    }

    /**
     * Sets how many bytes target may hold (a multiple of the buffer size is sensible; it is rounded down to
     * whole buffers). Throws if all quotas together would exceed the pool: the guarantee that no target
     * is starved rests on it. Lowering a quota below current use lets holders keep their buffers; new
     * requests wait until use falls below it.
     */
    public synchronized void setQuota(int target, long bytes) {
        checkTarget(target);
        long rounded = Math.max(0, bytes) / bufferSize * bufferSize;
        long current = quota(target);
        long total = quotaTotal - current + rounded;
        if (total > (long) bufferSize * bufferCount) {
            throw new IllegalArgumentException("quotas would total " + total + " bytes, more than the pool's "
                    + (long) bufferSize * bufferCount + " (" + bufferCount + " x " + bufferSize + ")");
        }
        quotaTotal = total;
        LONG.setVolatile(memory, PoolDescriptor.targetOffset(target) + QUOTA, rounded);
    }

    /**
     * A buffer for target: its index, or -1 when target stayed over its quota for timeoutNanos (a counted
     * drop; 0 means do not wait, and is not counted as a wait). Waiting spins briefly, then yields, then parks in short slices, so a
     * waiting sender costs little and resumes soon after one of its target's buffers is released.
     */
    public int acquire(int target, long timeoutNanos) {
        if (target < 0 || target >= maxTargets) {
            throw new IllegalArgumentException("target " + target + " outside [0, " + maxTargets + ")");
        }
        final long slot = PoolDescriptor.targetOffset(target);
        if (!reserve(slot)) {
            if (timeoutNanos <= 0) {
                // The caller will not wait (e.g. a receive path that cannot stall): a drop, no clock read.
                LONG.getAndAdd(memory, slot + DROPS, 1L);
                return -1;
            }
            if (!awaitReservation(slot, timeoutNanos)) {
                return -1;
            }
        }
        int index = pop();
        if (index < 0) {
            // Unreachable while quotas fit the pool; kept so a broken invariant shows as a drop, not a leak.
            LONG.getAndAdd(memory, slot + IN_USE, (long) -bufferSize);
            LONG.getAndAdd(memory, slot + DROPS, 1L);
            return -1;
        }
        INT.setRelease(memory, ownersOffset + 4L * index, target);
        LONG.getAndAdd(memory, slot + GRANTS, 1L);
        return index;
    }

    /**
     * A buffer for target, or -1 when target is at its quota; nothing is counted then (the caller decides: a
     * sender on a data path that must not stall waits there, across rounds, instead of here).
     */
    public int tryAcquire(int target) {
        if (target < 0 || target >= maxTargets) {
            throw new IllegalArgumentException("target " + target + " outside [0, " + maxTargets + ")");
        }
        final long slot = PoolDescriptor.targetOffset(target);
        if (!reserve(slot)) {
            return -1;
        }
        int index = pop();
        if (index < 0) {
            LONG.getAndAdd(memory, slot + IN_USE, (long) -bufferSize);
            LONG.getAndAdd(memory, slot + DROPS, 1L);
            return -1;
        }
        INT.setRelease(memory, ownersOffset + 4L * index, target);
        LONG.getAndAdd(memory, slot + GRANTS, 1L);
        return index;
    }

    private boolean awaitReservation(long slot, long timeoutNanos) {
        final long start = System.nanoTime();
        LONG.getAndAdd(memory, slot + WAITS, 1L);
        int attempt = 0;
        while (true) {
            long now = System.nanoTime();
            if (now - start >= timeoutNanos) {
                LONG.getAndAdd(memory, slot + WAIT_NANOS, now - start);
                LONG.getAndAdd(memory, slot + DROPS, 1L);
                return false;
            }
            if (attempt < SPINS) {
                Thread.onSpinWait();
            } else if (attempt < SPINS + YIELDS) {
                Thread.yield();
            } else {
                LockSupport.parkNanos(Math.min(PARK_NANOS, timeoutNanos - (now - start)));
            }
            attempt++;
            if (reserve(slot)) {
                LONG.getAndAdd(memory, slot + WAIT_NANOS, System.nanoTime() - start);
                return true;
            }
        }
    }

    private boolean reserve(long slot) {
        final MemorySegment memory = this.memory;
        final long quota = (long) LONG.getOpaque(memory, slot + QUOTA);
        while (true) {
            long inUse = (long) LONG.getVolatile(memory, slot + IN_USE);
            long wanted = inUse + bufferSize;
            if (wanted > quota) {
                return false;
            }
            if (LONG.compareAndSet(memory, slot + IN_USE, inUse, wanted)) {
                long peak = (long) LONG.getOpaque(memory, slot + PEAK);
                while (wanted > peak && !LONG.compareAndSet(memory, slot + PEAK, peak, wanted)) {
                    peak = (long) LONG.getVolatile(memory, slot + PEAK);
                }
                return true;
            }
        }
    }

    /** Gives a buffer back to its target's quota. Releasing a free buffer is a bug and throws. */
    public void release(int index) {
        checkIndex(index);
        int owner = (int) INT.getAndSet(memory, ownersOffset + 4L * index, FREE);
        if (owner == FREE) {
            throw new IllegalStateException("buffer " + index + " released twice");
        }
        push(index);
        LONG.getAndAdd(memory, PoolDescriptor.targetOffset(owner) + IN_USE, (long) -bufferSize);
    }

    private int pop() {
        final MemorySegment memory = this.memory;
        while (true) {
            long head = (long) LONG.getVolatile(memory, FREE_HEAD_OFFSET);
            int index = (int) head;
            if (index == FREE) {
                return -1;
            }
            int next = (int) INT.getVolatile(memory, nextOffset + 4L * index);
            long tag = (head >>> 32) + 1;
            if (LONG.compareAndSet(memory, FREE_HEAD_OFFSET, head, tag << 32 | (next & 0xffff_ffffL))) {
                return index;
            }
        }
    }

    private void push(int index) {
        final MemorySegment memory = this.memory;
        while (true) {
            long head = (long) LONG.getVolatile(memory, FREE_HEAD_OFFSET);
            INT.setVolatile(memory, nextOffset + 4L * index, (int) head);
            long tag = (head >>> 32) + 1;
            if (LONG.compareAndSet(memory, FREE_HEAD_OFFSET, head, tag << 32 | (index & 0xffff_ffffL))) {
                return;
            }
        }
    }

    /** The pool's memory: frames live at {@link #offset(int)} for {@link #bufferSize()} bytes. */
    public MemorySegment memory() {
        return memory;
    }

    public long offset(int index) {
        return buffersOffset + (long) index * bufferSize;
    }

    /** A view of one buffer (allocates a slice: for control paths and tests). */
    public MemorySegment buffer(int index) {
        checkIndex(index);
        return memory.asSlice(offset(index), bufferSize);
    }

    public int bufferSize() {
        return bufferSize;
    }

    public int bufferCount() {
        return bufferCount;
    }

    public int maxTargets() {
        return maxTargets;
    }

    /** The memfd behind a pool made by {@link #create(String, int, int, int)}, or -1. */
    public int fd() {
        return shared == null ? -1 : shared.fd();
    }

    /** The target holding buffer index, or -1 if it is free. */
    public int owner(int index) {
        checkIndex(index);
        return (int) INT.getVolatile(memory, ownersOffset + 4L * index);
    }

    /** Buffers currently held by any target (walks the owner table: control path). */
    public int buffersHeld() {
        int held = 0;
        for (int i = 0; i < bufferCount; i++) {
            if (owner(i) != FREE) {
                held++;
            }
        }
        return held;
    }

    public long quota(int target) {
        return counter(target, QUOTA);
    }

    public long bytesInUse(int target) {
        return counter(target, IN_USE);
    }

    public long peakBytes(int target) {
        return counter(target, PEAK);
    }

    public long grants(int target) {
        return counter(target, GRANTS);
    }

    public long waits(int target) {
        return counter(target, WAITS);
    }

    public long waitNanos(int target) {
        return counter(target, WAIT_NANOS);
    }

    public long drops(int target) {
        return counter(target, DROPS);
    }

    /** All of target's counters at once (allocates: for the control API and tests). */
    public TargetCounters counters(int target) {
        return new TargetCounters(target, quota(target), bytesInUse(target), peakBytes(target), grants(target),
                waits(target), waitNanos(target), drops(target));
    }

    private long counter(int target, long field) {
        checkTarget(target);
        return (long) LONG.getVolatile(memory, PoolDescriptor.targetOffset(target) + field);
    }

    private void checkTarget(int target) {
        if (target < 0 || target >= maxTargets) {
            throw new IllegalArgumentException("target " + target + " outside [0, " + maxTargets + ")");
        }
    }

    private void checkIndex(int index) {
        if (index < 0 || index >= bufferCount) {
            throw new IllegalArgumentException("buffer " + index + " outside [0, " + bufferCount + ")");
        }
    }

    /** Unmaps a pool this object created; memory given to {@link #create(MemorySegment, int, int, int)} stays its owner's. */
    @Override
    public void close() {
        if (shared != null) {
            shared.close();
        }
    }

    /** One target's counters: quota and bytes in use, peak, grants, waits, time waited, drops. */
    public record TargetCounters(int target, long quota, long bytesInUse, long peakBytes, long grants,
                                 long waits, long waitNanos, long drops) {
    }
}

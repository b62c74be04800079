package io.vnicd.virtio.testing;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

import static io.vnicd.virtio.queue.SplitRingLayout.*;

/**
 * A guest driver's view of one split queue in a {@link TestDriver}'s memory: it writes descriptors, makes
 * chains available and reads the used ring, with the orderings a real driver uses. Descriptors are handed out
 * round-robin, so a test keeps fewer than size chains of one descriptor outstanding (or size/n of n).
 * Raw writers ({@link #writeDescriptor}, {@link #makeAvailable}, {@link #setAvailIdx}) build hostile rings.
 */
public final class DriverQueue {
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED;
    private static final VarHandle INDEX = ValueLayout.JAVA_SHORT.varHandle();

    private final TestDriver driver;
    private final int size;
    public final long descGpa;
    public final long availGpa;
    public final long usedGpa;
    private final MemorySegment desc;
    private final MemorySegment avail;
    private final MemorySegment used;
    private int nextDesc;
    private int availIdx;
    private int lastUsed;

    DriverQueue(TestDriver driver, int size, long descGpa, long availGpa, long usedGpa) {
        this.driver = driver;
        this.size = size;
        this.descGpa = descGpa;
        this.availGpa = availGpa;
        this.usedGpa = usedGpa;
        this.desc = driver.at(descGpa, 16L * size);
        this.avail = driver.at(availGpa, availBytes(size));
        this.used = driver.at(usedGpa, usedBytes(size));
    }

    public int size() {
        return size;
    }

    public long descUser() {
        return driver.toUser(descGpa);
    }

    public long availUser() {
        return driver.toUser(availGpa);
    }

    public long usedUser() {
        return driver.toUser(usedGpa);
    }

    public void writeDescriptor(int index, long addr, int len, int flags, int next) {
        writeDescriptor(desc, index, addr, len, flags, next);
    }

    /** Writes a descriptor into any table (an indirect one in guest memory, say). */
    public static void writeDescriptor(MemorySegment table, int index, long addr, int len, int flags, int next) {
        long at = (long) index * DESC_SIZE;
        table.set(U64, at + DESC_ADDR, addr);
        table.set(U32, at + DESC_LEN, len);
        table.set(U16, at + DESC_FLAGS, (short) flags);
        table.set(U16, at + DESC_NEXT, (short) next);
    }

    /**
     * Builds a chain of buffers {gpa, len} (writable ones flagged) from the next free descriptors and makes it
     * available. Returns its head.
     */
    public int addChain(long[] gpas, int[] lens, boolean writable) {
        int head = nextDesc;
        for (int i = 0; i < gpas.length; i++) {
            int d = (nextDesc + i) % size;
            int flags = (writable ? F_WRITE : 0) | (i + 1 < gpas.length ? F_NEXT : 0);
            writeDescriptor(d, gpas[i], lens[i], flags, (d + 1) % size);
        }
        nextDesc = (nextDesc + gpas.length) % size;
        makeAvailable(head);
        return head;
    }

    /** One buffer per chain: the common case, without arrays. */
    public int addBuffer(long gpa, int len, boolean writable) {
        int head = nextDesc;
        writeDescriptor(head, gpa, len, writable ? F_WRITE : 0, 0);
        nextDesc = (nextDesc + 1) % size;
        makeAvailable(head);
        return head;
    }

    /** A chain of one descriptor pointing at an indirect table of entries descriptors, written by the caller. */
    public int addIndirect(long tableGpa, int entries) {
        int head = nextDesc;
        writeDescriptor(head, tableGpa, entries * DESC_SIZE, F_INDIRECT, 0);
        nextDesc = (nextDesc + 1) % size;
        makeAvailable(head);
        return head;
    }

    /** Puts head in the available ring and publishes the index (release: the entry first). */
    public void makeAvailable(int head) {
        avail.set(U16, AVAIL_RING + 2L * (availIdx % size), (short) head);
        availIdx = (availIdx + 1) & 0xffff;
        INDEX.setRelease(avail, (long) AVAIL_IDX, (short) availIdx);
    }

    /** Publishes an arbitrary available index (hostile tests). */
    public void setAvailIdx(int idx) {
        availIdx = idx & 0xffff;
        INDEX.setRelease(avail, (long) AVAIL_IDX, (short) availIdx);
    }

    public void setAvailFlags(int flags) {
        avail.set(U16, AVAIL_FLAGS, (short) flags);
    }

    public void setUsedEvent(int idx) {
        avail.set(U16, usedEventOffset(size), (short) idx);
    }

    public int usedFlags() {
        return used.get(U16, USED_FLAGS) & 0xffff;
    }

    public int availEvent() {
        return used.get(U16, availEventOffset(size)) & 0xffff;
    }

    public int usedIdx() {
        return (short) INDEX.getAcquire(used, (long) USED_IDX) & 0xffff;
    }

    /** Used entries published and not yet taken by {@link #takeUsed()}. */
    public int pendingUsed() {
        return (usedIdx() - lastUsed) & 0xffff;
    }

    /** Takes the next used entry: returns id << 32 | len, or -1 when none is pending. */
    public long takeUsed() {
        if (pendingUsed() == 0) {
            return -1;
        }
        long at = USED_RING + (long) USED_ELEM_SIZE * (lastUsed % size);
        long id = Integer.toUnsignedLong(used.get(U32, at));
        long len = Integer.toUnsignedLong(used.get(U32, at + 4));
        lastUsed = (lastUsed + 1) & 0xffff;
        return id << 32 | len;
    }

    /** Waits (spinning, bounded) until at least n used entries are pending; returns whether they are. */
    public boolean awaitUsed(int n, long timeoutMillis) {
        long deadline = System.nanoTime() + timeoutMillis * 1_000_000;
        while (pendingUsed() < n) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            Thread.onSpinWait();
        }
        return true;
    }
}

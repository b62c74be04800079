package io.vnicd.virtio.queue;

import io.vnicd.nativeio.EventFd;
import io.vnicd.nativeio.NativeException;
import io.vnicd.virtio.memory.DirtyLog;
import io.vnicd.virtio.memory.GuestMemory;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

import static io.vnicd.virtio.queue.SplitRingLayout.*;

/**
 * The device side of one split virtqueue. Everything the driver wrote (indices, descriptors, addresses,
 * lengths) is checked when it is read, not ahead of time: a head beyond the queue, a buffer outside guest
 * memory, a chain longer than the queue (a loop), an indirect table inside an indirect table, or an index that
 * runs ahead by more than the queue size marks the queue broken. A broken queue does nothing more until it is
 * reset; the error is counted and its reason kept, and no other queue is affected.
 * <p>
 * Walking a chain: {@link #popAvail()} takes the next head, {@link #beginChain(int)} starts at it, and each
 * {@link #nextBuffer()} exposes one buffer through {@link #bufferSegment()}, {@link #bufferOffset()},
 * {@link #bufferLength()} and {@link #bufferWritable()}. Completed chains go to {@link #addUsed}, become
 * visible to the driver with {@link #publishUsed()} and are signalled by {@link #notifyIfNeeded()}.
 * <p>
 * Used by the data-path thread only, except the counters.
 */
public final class SplitQueue {
    private static final System.Logger LOG = System.getLogger(SplitQueue.class.getName());
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED;
    /** Index fields are read with acquire and written with release: needs the aligned layout. */
    private static final VarHandle INDEX = ValueLayout.JAVA_SHORT.varHandle();

    private final int index;
    private int size;
    private int mask;
    private long descUser;
    private long availUser;
    private long usedUser;
    private GuestMemory memory = GuestMemory.empty();
    private MemorySegment desc;
    private MemorySegment avail;
    private MemorySegment used;
    private boolean configured;
    private boolean eventIdx;
    private EventFd call;
    private Notifier notifier = Notifier.DIRECT;

    private int nextAvail;
    /** The driver's available index as last read: the shared cache line is only read again once it is used up. */
    private int availShadow;
    private int usedShadow;
    private int usedPublished;
    private int signalledUsed;
    private boolean signalledValid;

    // The chain being walked.
    private MemorySegment table;
    private long tableBase;
    private int tableSize;
    private boolean inIndirect;
    private int current;
    private boolean hasNext;
    private int ttl;
    private MemorySegment bufSegment;
    private long bufOffset;
    private int bufLength;
    /** The current buffer's guest physical address (for the dirty log). */
    private long bufGpa;
    /** While a migration logs dirty pages: the log, and the used ring's guest physical address. */
    private DirtyLog log;
    private long usedGpa;
    private boolean bufWritable;

    private volatile boolean broken;
    private volatile String brokenReason = "";
    private volatile long errors;
    private volatile long callFailures;

    public SplitQueue(int index) {
        this.index = index;
    }

    public int index() {
        return index;
    }

    public int size() {
        return size;
    }

    /**
     * Places the queue on its three areas, given as frontend virtual addresses (SET_VRING_ADDR), and clears any
     * broken state.
     *
     * @throws InvalidQueueException when the size is not a power of two up to 32768, an area is misaligned or
     *                               not wholly inside one region of memory
     */
    public void configure(int size, long descAddr, long availAddr, long usedAddr, GuestMemory memory)
            throws InvalidQueueException {
        if (size < 1 || size > MAX_SIZE || Integer.bitCount(size) != 1) {
            throw new InvalidQueueException("queue size " + size + " is not a power of two from 1 to " + MAX_SIZE);
        }
        this.size = size;
        this.mask = size - 1;
        this.descUser = descAddr;
        this.availUser = availAddr;
        this.usedUser = usedAddr;
        map(memory);
        this.configured = true;
        this.broken = false;
        this.brokenReason = "";
        this.signalledValid = false;
    }

    private void map(GuestMemory m) throws InvalidQueueException {
        MemorySegment d = area(m, "descriptor table", descUser, descTableBytes(size), 16);
        MemorySegment a = area(m, "available ring", availUser, availBytes(size), 2);
        MemorySegment u = area(m, "used ring", usedUser, usedBytes(size), 4);
        this.memory = m;
        this.desc = d;
        this.avail = a;
        this.used = u;
    }

    private MemorySegment area(GuestMemory m, String what, long user, long bytes, int align) throws InvalidQueueException {
        if ((user & (align - 1)) != 0) {
            throw new InvalidQueueException(String.format("queue %d: %s at 0x%x is not %d-byte aligned", index, what, user, align));
        }
        long gpa = m.userToGuest(user, bytes);
        MemorySegment s = gpa == -1 ? null : m.slice(gpa, bytes);
        if (s == null) {
            throw new InvalidQueueException(String.format("queue %d: %s [0x%x, +0x%x) is not inside guest memory",
                    index, what, user, bytes));
        }
        if ((s.address() & 1) != 0) {
            throw new InvalidQueueException(String.format("queue %d: %s maps to an odd address", index, what));
        }
        return s;
    }

    /** The memory table changed under a running queue: find its areas again, or break the queue. */
    public void setMemory(GuestMemory m) {
        if (!configured) {
            this.memory = m;
            return;
        }
        try {
            map(m);
        } catch (InvalidQueueException e) {
            this.memory = m;
            fail(e.getMessage() + " after the memory table changed");
        }
    }

    /** Where processing resumes (SET_VRING_BASE): the next available entry, also the used index. */
    public void setNextAvail(int base) {
        nextAvail = base & 0xffff;
        availShadow = nextAvail;
        usedShadow = nextAvail;
        usedPublished = nextAvail;
        signalledUsed = nextAvail;
    }

    public int nextAvail() {
        return nextAvail;
    }

    /** The used index as the driver sees it in memory (-1 unconfigured). */
    public int usedIndexInMemory() {
        return configured ? (short) INDEX.getAcquire(used, (long) USED_IDX) & 0xffff : -1;
    }

    public void setEventIdx(boolean on) {
        eventIdx = on;
    }

    /** How the call eventfd is written (the data path's guarded write; direct by default). */
    public void setNotifier(Notifier n) {
        notifier = n;
    }

    /** The driver's interrupt eventfd (not owned: the session closes it). */
    public void setCallFd(EventFd fd) {
        call = fd;
    }

    /** Forgets the rings (GET_VRING_BASE, RESET_OWNER). Counters are kept. */
    public void reset() {
        configured = false;
        broken = false;
        brokenReason = "";
        desc = avail = used = table = bufSegment = null;
        memory = GuestMemory.empty();
        call = null;
    }

    public boolean isReady() {
        return configured && !broken;
    }

    public boolean isBroken() {
        return broken;
    }

    public String brokenReason() {
        return brokenReason;
    }

    /** Violations found in what the driver wrote. */
    public long errors() {
        return errors;
    }

    /** Failed writes to the call eventfd. */
    public long callFailures() {
        return callFailures;
    }

    /** Marks the queue broken: the driver wrote something that cannot be served. */
    public void fail(String reason) {
        errors = errors + 1;
        if (!broken) {
            broken = true;
            brokenReason = reason;
            LOG.log(System.Logger.Level.WARNING, () -> "queue " + index + " stopped: " + reason);
        }
    }

    private int availIdx() {
        return (short) INDEX.getAcquire(avail, (long) AVAIL_IDX) & 0xffff;
    }

    /** Chains the driver made available and the device has not taken yet (0 when broken or unconfigured). */
    public int available() {
        if (!configured || broken) {
            return 0;
        }
        int pending = (availShadow - nextAvail) & 0xffff;
        if (pending != 0) {
            return pending;
        }
        availShadow = availIdx();
        pending = (availShadow - nextAvail) & 0xffff;
        if (pending > size) {
            fail("driver's available index runs " + pending + " entries ahead of the device in a queue of " + size);
            return 0;
        }
        return pending;
    }

    /**
     * Takes the next available chain's head, or -1 when there is none (or the queue broke). Call only after
     * {@link #available()} said there is one.
     */
    public int popAvail() {
        int head = avail.get(U16, AVAIL_RING + 2L * (nextAvail & mask)) & 0xffff;
        if (head >= size) {
            fail("available ring names descriptor " + head + " in a queue of " + size);
            return -1;
        }
        nextAvail = (nextAvail + 1) & 0xffff;
        return head;
    }

    /**
     * Reads ahead what the next n available chains will need: their descriptors and (when data is true) the
     * first bytes of their first buffers. The loads are independent of each other, so the CPU overlaps their
     * cache misses instead of taking them one by one per frame later (Java has no prefetch instruction; this
     * is the portable equivalent). Nothing is validated or consumed here; returns a value only so that the
     * loads are not optimised away.
     */
    public long touchAhead(int n, boolean data) {
        int pending = Math.min(n, (availShadow - nextAvail) & 0xffff);
        if (!configured || broken || pending > size) {
            return 0;
        }
        long sum = 0;
        for (int i = 0; i < pending; i++) {
            int head = avail.get(U16, AVAIL_RING + 2L * ((nextAvail + i) & mask)) & 0xffff;
            if (head >= size) {
                break;
            }
            long addr = desc.get(U64, (long) head * DESC_SIZE + DESC_ADDR);
            long len = desc.get(U32, (long) head * DESC_SIZE + DESC_LEN) & 0xffff_ffffL;
            sum += addr;
            if (data && len >= 8) {
                // first and last bytes: a small frame behind its virtio header often spans two cache lines
                int r = memory.regionOf(addr, len);
                if (r >= 0) {
                    long off = memory.offsetIn(r, addr);
                    MemorySegment seg = memory.segment(r);
                    sum += seg.get(U64, off) + seg.get(U64, off + Math.min(len, 256) - 8);
                }
            }
        }
        return sum;
    }

    /** Gives back the last n chains taken by {@link #popAvail()}; they will be taken again. */
    public void unpop(int n) {
        nextAvail = (nextAvail - n) & 0xffff;
    }

    /** Starts walking the chain at head. */
    public void beginChain(int head) {
        table = desc;
        tableBase = 0;
        tableSize = size;
        inIndirect = false;
        current = head;
        hasNext = true;
        ttl = size;
    }

    /**
     * Moves to the next buffer of the chain. Returns false at the end of the chain, or when the chain is invalid
     * (then the queue is broken: check {@link #isBroken()}).
     */
    public boolean nextBuffer() {
        while (hasNext) {
            if (--ttl < 0) {
                fail("descriptor chain longer than its table of " + tableSize + " (a loop?)");
                return false;
            }
            long at = tableBase + (long) current * DESC_SIZE;
            long addr = table.get(U64, at + DESC_ADDR);
            // len, flags and next in one 8-byte load (little-endian: len low, then flags, then next)
            long rest = table.get(U64, at + DESC_LEN);
            long len = rest & 0xffff_ffffL;
            int flags = (int) (rest >>> 32) & 0xffff;
            int next = (int) (rest >>> 48);
            if ((flags & F_INDIRECT) != 0) {
                if (inIndirect) {
                    fail("indirect table inside an indirect table (virtio 1.2, 2.7.5.3.1)");
                    return false;
                }
                if ((flags & F_NEXT) != 0) {
                    fail("indirect descriptor also flagged NEXT");
                    return false;
                }
                if (len == 0 || len % DESC_SIZE != 0 || len / DESC_SIZE > MAX_SIZE) {
                    fail("indirect table of " + len + " bytes");
                    return false;
                }
                int r = memory.regionOf(addr, len);
                if (r < 0) {
                    fail(String.format("indirect table [0x%x, +0x%x) is outside guest memory", addr, len));
                    return false;
                }
                table = memory.segment(r);
                tableBase = memory.offsetIn(r, addr);
                tableSize = (int) (len / DESC_SIZE);
                ttl = tableSize;
                inIndirect = true;
                current = 0;
                continue;
            }
            int r = memory.regionOf(addr, len);
            if (r < 0) {
                fail(String.format("buffer [0x%x, +0x%x) is outside guest memory", addr, len));
                return false;
            }
            bufSegment = memory.segment(r);
            bufOffset = memory.offsetIn(r, addr);
            bufLength = (int) len;
            bufGpa = addr;
            bufWritable = (flags & F_WRITE) != 0;
            if ((flags & F_NEXT) != 0) {
                if (next >= tableSize) {
                    fail("descriptor names next " + next + " beyond its table of " + tableSize);
                    return false;
                }
                current = next;
            } else {
                hasNext = false;
            }
            if (len < 0 || len > Integer.MAX_VALUE) {
                fail("buffer claims " + len + " bytes");
                return false;
            }
            return true;
        }
        return false;
    }

    public MemorySegment bufferSegment() {
        return bufSegment;
    }

    public long bufferOffset() {
        return bufOffset;
    }

    public int bufferLength() {
        return bufLength;
    }

    public boolean bufferWritable() {
        return bufWritable;
    }

    /**
     * Logs dirty pages (a live migration) from now on, or stops (log null). usedGpa is where the used ring lies in
     * guest physical memory (VHOST_VRING_F_LOG's log_guest_addr), -1 to take it from the memory table.
     */
    public void setLog(DirtyLog log, long usedGpa) {
        this.log = log;
        this.usedGpa = usedGpa != -1 ? usedGpa : memory.userToGuest(usedUser, usedBytes(Math.max(1, size)));
    }

    /** Logs a write of n bytes at offset (from {@link #bufferOffset()}'s start) of the current buffer. */
    public void logBufferWrite(long offsetInBuffer, int n) {
        logWrite(bufGpa + offsetInBuffer, n);
    }

    /** Logs a write of n bytes at guest physical address gpa (after the write: the frontend may copy at once). */
    public void logWrite(long gpa, int n) {
        DirtyLog l = log;
        if (l != null) {
            l.mark(gpa, n);
        }
    }

    /** The current buffer's guest physical address. */
    public long bufferGpa() {
        return bufGpa;
    }

    private void logUsed(long at, int n) {
        DirtyLog l = log;
        if (l != null && usedGpa != -1) {
            l.mark(usedGpa + at, n);
        }
    }

    /** Records a completed chain; the driver sees it after {@link #publishUsed()}. */
    public void addUsed(int head, int writtenLength) {
        long at = USED_RING + (long) USED_ELEM_SIZE * (usedShadow & mask);
        used.set(U32, at, head);
        used.set(U32, at + 4, writtenLength);
        logUsed(at, USED_ELEM_SIZE);
        usedShadow = (usedShadow + 1) & 0xffff;
    }

    /** Forgets the last n chains recorded by {@link #addUsed} and not yet published. */
    public void rollbackUsed(int n) {
        usedShadow = (usedShadow - n) & 0xffff;
    }

    /** Makes the recorded used entries visible: the index is stored with release, after the entries. */
    public void publishUsed() {
        if (usedShadow != usedPublished && configured) {
            INDEX.setRelease(used, (long) USED_IDX, (short) usedShadow);
            logUsed(USED_IDX, 2);
            usedPublished = usedShadow;
        }
    }

    /**
     * Signals the call eventfd if the driver wants to hear about the used entries published since the last
     * signal: VIRTQ_AVAIL_F_NO_INTERRUPT, or with EVENT_IDX the used_event index (virtio 1.2, 2.7.10).
     */
    public void notifyIfNeeded() {
        EventFd fd = call;
        if (fd == null || !configured) {
            return;
        }
        int now = usedPublished;
        int old = signalledUsed;
        boolean valid = signalledValid;
        if (valid && now == old) {
            return;
        }
        // The used index store must be visible before the driver's suppression field is read (StoreLoad).
        VarHandle.fullFence();
        boolean signal;
        if (eventIdx) {
            int event = avail.get(U16, usedEventOffset(size)) & 0xffff;
            signal = !valid || ((now - event - 1) & 0xffff) < ((now - old) & 0xffff);
        } else {
            signal = (avail.get(U16, AVAIL_FLAGS) & AVAIL_F_NO_INTERRUPT) == 0;
        }
        signalledUsed = now;
        signalledValid = true;
        if (signal) {
            try {
                if (!notifier.signal(fd)) {
                    callFailures = callFailures + 1;
                    fail("writing the call eventfd blocked the data path (a full counter on a blocking descriptor)");
                }
            } catch (NativeException e) {
                callFailures = callFailures + 1;
            }
        }
    }

    /**
     * Asks the driver to kick on new buffers (before the device sleeps). Returns true when buffers arrived
     * meanwhile, so that the caller polls instead of sleeping: the re-check after a full fence closes the race
     * with a driver that read the old suppression state.
     */
    public boolean enableNotifications() {
        if (!configured || broken) {
            return false;
        }
        if (eventIdx) {
            used.set(U16, availEventOffset(size), (short) nextAvail);
            logUsed(availEventOffset(size), 2);
        } else {
            used.set(U16, USED_FLAGS, (short) 0);
            logUsed(USED_FLAGS, 2);
        }
        VarHandle.fullFence();
        return availIdx() != nextAvail;
    }

    /** Tells the driver not to kick while the device polls (without EVENT_IDX; with it, avail_event stays behind). */
    public void disableNotifications() {
        if (configured && !broken && !eventIdx) {
            used.set(U16, USED_FLAGS, (short) USED_F_NO_NOTIFY);
            logUsed(USED_FLAGS, 2);
        }
    }
}

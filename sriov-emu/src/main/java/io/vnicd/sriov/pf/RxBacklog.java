package io.vnicd.sriov.pf;

import io.vnicd.devmodel.counter.CounterBlock;
import io.vnicd.devmodel.counter.CounterType;
import io.vnicd.devmodel.pool.BufferPool;
import io.vnicd.devmodel.ring.OneToOneRing;
import io.vnicd.devmodel.ring.RingEntry;
import io.vnicd.virtio.net.VirtioNetBackend;

import java.lang.foreign.MemorySegment;

/**
 * Frames for a VF whose driver has no receive buffer posted at the moment they arrive (a guest under TCG
 * refills its ring in bursts): they are held in buffers of the PF's pool, charged to this VF's quota
 * (seed US8392565) in the pool of the NUMA node the PF's placement policy picks (seed US20110208873), and
 * written into the RX queue, in order, as soon as the driver posts buffers. Over the
 * quota a frame is dropped and counted (pool drops), never silently, and no VF can take another's memory.
 * Data-path thread only, except the counters.
 */
final class RxBacklog {
    /** The backlog's counters (scope {@code backlog}). */
    enum BacklogCounter implements CounterType {
        HELD("Frames held because the VF had no RX buffer posted"),
        DELIVERED("Held frames written into the VF's RX queue later"),
        FLUSHED("Held frames dropped because the VF's driver went away", true);

        private final String description;
        private final boolean drop;

        BacklogCounter(String description) {
            this(description, false);
        }

        BacklogCounter(String description, boolean drop) {
            this.description = description;
            this.drop = drop;
        }

        @Override
        public String description() {
            return description;
        }

        @Override
        public boolean isDrop() {
            return drop;
        }
    }

    private final int port;
    /** The PF's backlog pools by NUMA node (null where a node has none); an entry's target field names the node. */
    private final BufferPool[] pools;
    private final OneToOneRing ring;
    private final CounterBlock counts;
    private long head = RingEntry.NONE;
    private int depth;

    RxBacklog(int port, BufferPool[] pools, int buffers, CounterBlock counts) {
        this.port = port;
        this.counts = counts;
        this.pools = pools;
        this.ring = OneToOneRing.allocate(Math.max(2, Integer.highestOneBit(Math.max(1, buffers) - 1) << 1));
    }

    boolean isEmpty() {
        return depth == 0;
    }

    /** {@link #hold}: held. */
    static final int HELD_OK = 0;
    /** {@link #hold}: the VF's quota is used up: the sender may wait for the VF to take what is held. */
    static final int OVER_QUOTA = 1;
    /** {@link #hold}: the frame is larger than a backlog buffer. */
    static final int TOO_BIG = 2;

    /**
     * Keeps a copy of the frame in a buffer of node's pool (chosen by the PF's placement policy). Over quota nothing
     * is held and nothing counted: the caller decides whether the sender waits or the frame is dropped.
     */
    int hold(int node, MemorySegment frame, long offset, int length) {
        BufferPool pool = pools[node];
        if (length > pool.bufferSize()) {
            return TOO_BIG;
        }
        int index = pool.tryAcquire(port);
        if (index < 0) {
            return OVER_QUOTA;
        }
        MemorySegment.copy(frame, offset, pool.memory(), pool.offset(index), length);
        if (!ring.offer(RingEntry.pack(index, length, node))) {
            pool.release(index);
            return OVER_QUOTA;
        }
        depth++;
        counts.increment(BacklogCounter.HELD.ordinal());
        return HELD_OK;
    }

    /** Writes held frames into the VF's RX queue while it has buffers; returns how many went. */
    int drain(VirtioNetBackend device) {
        int n = 0;
        while (depth > 0) {
            if (head == RingEntry.NONE) {
                head = ring.poll();
            }
            int index = (int) RingEntry.bufferIndex(head);
            BufferPool pool = pools[RingEntry.target(head)];
            if (!device.receiveHeld(pool.memory(), pool.offset(index), RingEntry.length(head))) {
                break;
            }
            pool.release(index);
            head = RingEntry.NONE;
            depth--;
            counts.increment(BacklogCounter.DELIVERED.ordinal());
            n++;
        }
        return n;
    }

    /** The VF's driver went away: the held frames are dropped, counted. */
    void flush() {
        while (depth > 0) {
            if (head == RingEntry.NONE) {
                head = ring.poll();
            }
            pools[RingEntry.target(head)].release((int) RingEntry.bufferIndex(head));
            head = RingEntry.NONE;
            depth--;
            counts.increment(BacklogCounter.FLUSHED.ordinal());
        }
    }

    int depth() {
        return depth;
    }

    long held() {
        return counts.get(BacklogCounter.HELD.ordinal());
    }

    long delivered() {
        return counts.get(BacklogCounter.DELIVERED.ordinal());
    }

    long flushed() {
        return counts.get(BacklogCounter.FLUSHED.ordinal());
    }

    CounterBlock counters() {
        return counts;
    }
}

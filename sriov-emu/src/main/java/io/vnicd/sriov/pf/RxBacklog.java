package io.vnicd.sriov.pf;

import io.vnicd.devmodel.pool.BufferPool;
import io.vnicd.devmodel.ring.OneToOneRing;
import io.vnicd.devmodel.ring.RingEntry;
import io.vnicd.virtio.net.VirtioNetBackend;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * Frames for a VF whose driver has no receive buffer posted at the moment they arrive (a guest under TCG
 * refills its ring in bursts): they are held in buffers of the PF's pool, charged to this VF's quota
 * (seed US8392565) in the pool of the NUMA node the PF's placement policy picks (seed US20110208873), and
 * written into the RX queue, in order, as soon as the driver posts buffers. Over the
 * quota a frame is dropped and counted (pool drops), never silently, and no VF can take another's memory.
 * Data-path thread only, except the counters.
 */
final class RxBacklog {
    private static final VarHandle COUNTS = MethodHandles.arrayElementVarHandle(long[].class);
    private static final int HELD = 0;
    private static final int DELIVERED = 1;
    private static final int FLUSHED = 2;

    private final int port;
    /** The PF's backlog pools by NUMA node (null where a node has none); an entry's target field names the node. */
    private final BufferPool[] pools;
    private final OneToOneRing ring;
    private final long[] counts = new long[3];
    private long head = RingEntry.NONE;
    private int depth;

    RxBacklog(int port, BufferPool[] pools, int buffers) {
        this.port = port;
        this.pools = pools;
        this.ring = OneToOneRing.allocate(Math.max(2, Integer.highestOneBit(Math.max(1, buffers) - 1) << 1));
    }

    boolean isEmpty() {
        return depth == 0;
    }

    /**
     * Keeps a copy of the frame in a buffer of node's pool (chosen by the PF's placement policy); false (a counted
     * drop in that pool) when over quota or too large.
     */
    boolean hold(int node, MemorySegment frame, long offset, int length) {
        BufferPool pool = pools[node];
        if (length > pool.bufferSize()) {
            return false;
        }
        int index = pool.acquire(port, 0);
        if (index < 0) {
            return false;
        }
        MemorySegment.copy(frame, offset, pool.memory(), pool.offset(index), length);
        if (!ring.offer(RingEntry.pack(index, length, node))) {
            pool.release(index);
            return false;
        }
        depth++;
        counts[HELD]++;
        return true;
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
            counts[DELIVERED]++;
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
            counts[FLUSHED]++;
        }
    }

    int depth() {
        return depth;
    }

    long held() {
        return (long) COUNTS.getOpaque(counts, HELD);
    }

    long delivered() {
        return (long) COUNTS.getOpaque(counts, DELIVERED);
    }

    long flushed() {
        return (long) COUNTS.getOpaque(counts, FLUSHED);
    }
}

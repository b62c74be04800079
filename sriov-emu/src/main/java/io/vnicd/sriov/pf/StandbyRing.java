package io.vnicd.sriov.pf;

import io.vnicd.devmodel.counter.CounterBlock;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The standby ring of DoS containment (US7966401): frames of contained attacks that their budget admits wait here
 * instead of going straight to the switch, and the PF serves the ring only after every port's normal traffic of
 * the round, a bounded number per round: an attack can delay only itself. A full ring drops (counted).
 * Data-path thread only.
 * <pre>
 * slot (SLOT bytes)
 *  0        4        8        16                         SLOT
 *  +--------+--------+--------+--------------------------+
 *  | ingress| vlan   | length | frame (up to SLOT - 16)  |
 *  +--------+--------+--------+--------------------------+
 * </pre>
 */
final class StandbyRing {
    static final int SLOTS = 256;
    static final int SLOT = 2048;
    private static final int HEADER = 16;
    /** Largest frame the ring holds; larger contained frames are dropped as if the ring were full. */
    static final int MAX_FRAME = SLOT - HEADER;
    /** Frames served per data-path round, after the ports' own traffic. */
    static final int PER_ROUND = 32;

    private final MemorySegment slots = Arena.ofAuto().allocate((long) SLOTS * SLOT, 64);
    private final CounterBlock counters;
    private long head;
    private long tail;

    StandbyRing(CounterBlock pfCounters) {
        this.counters = pfCounters;
    }

    /** Queues a copy of the frame; false (counted) when the ring is full or the frame too large for a slot. */
    boolean offer(int ingress, int vlan, MemorySegment frame, long offset, int length) {
        if (tail - head == SLOTS || length > MAX_FRAME) {
            counters.increment(PfCounter.STANDBY_FULL.ordinal());
            return false;
        }
        long at = (tail & (SLOTS - 1)) * SLOT;
        slots.set(java.lang.foreign.ValueLayout.JAVA_INT, at, ingress);
        slots.set(java.lang.foreign.ValueLayout.JAVA_INT, at + 4, vlan);
        slots.set(java.lang.foreign.ValueLayout.JAVA_INT, at + 8, length);
        MemorySegment.copy(frame, offset, slots, at + HEADER, length);
        tail++;
        counters.increment(PfCounter.STANDBY_QUEUED.ordinal());
        return true;
    }

    boolean isEmpty() {
        return head == tail;
    }

    int depth() {
        return (int) (tail - head);
    }

    /** What the ring serves its frames to. */
    @FunctionalInterface
    interface Server {
        void serve(int ingress, int vlan, MemorySegment frame, long offset, int length);
    }

    /** Serves up to {@link #PER_ROUND} frames, oldest first; returns how many. */
    int drain(Server server) {
        int n = 0;
        while (head != tail && n < PER_ROUND) {
            long at = (head & (SLOTS - 1)) * SLOT;
            server.serve(slots.get(java.lang.foreign.ValueLayout.JAVA_INT, at),
                    slots.get(java.lang.foreign.ValueLayout.JAVA_INT, at + 4), slots, at + HEADER,
                    slots.get(java.lang.foreign.ValueLayout.JAVA_INT, at + 8));
            head++;
            n++;
        }
        if (n > 0) {
            counters.add(PfCounter.STANDBY_SERVED.ordinal(), n);
        }
        return n;
    }

    /** Drops what waits (the PF stops); counted as full drops. */
    void clear() {
        counters.add(PfCounter.STANDBY_FULL.ordinal(), tail - head);
        head = tail;
    }
}

package io.vnicd.sriov.uplink;

import io.vnicd.devmodel.counter.CounterBlock;
import io.vnicd.nativeio.PacketSocket;

/**
 * One backing NIC of an uplink: its name, its AF_PACKET socket while it is open, its state as the link watcher and
 * the data path see it, and its counters. The socket and the fields below it are the data path's; state is
 * written by the data path and read by anyone.
 */
final class Pnic {
    /** What the NIC is doing for the uplink. */
    enum State {
        /** Carries the uplink's traffic (the active one, or one of the aggregate). */
        ACTIVE,
        /** Healthy, standing by (active-backup). */
        STANDBY,
        /** Present but down: no carrier, set down, or its transmit kept failing. */
        FAILED,
        /** No interface of that name exists (deleted, never created). */
        ABSENT
    }

    final String ifname;
    final int index;
    final CounterBlock counters;
    volatile State state = State.ABSENT;
    volatile int ifindex;
    /** Data path: the socket in use, or null. */
    PacketSocket socket;
    /** Data path: frames were queued on the socket since its last kick. */
    boolean pending;
    /** Data path: kicks in a row that the kernel refused. */
    int failedKicks;
    long lastTxErrors;
    /** Data path: the transition waiting for its first frame out on this NIC, or null. */
    Failover awaitingFirstFrame;
    /** The receive handler bound to this NIC (allocated once). */
    PacketSocket.FrameHandler handler;

    Pnic(String ifname, int index, CounterBlock counters) {
        this.ifname = ifname;
        this.index = index;
        this.counters = counters;
    }

    boolean healthy() {
        State s = state;
        return s == State.ACTIVE || s == State.STANDBY;
    }

    @Override
    public String toString() {
        return ifname + " (" + state.name().toLowerCase(java.util.Locale.ROOT) + ")";
    }
}

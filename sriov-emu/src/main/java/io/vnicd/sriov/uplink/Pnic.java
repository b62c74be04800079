package io.vnicd.sriov.uplink;

import io.vnicd.devmodel.counter.CounterBlock;
import io.vnicd.nativeio.NicSocket;

/**
 * One backing NIC of an uplink: its name, its socket while it is open (AF_PACKET or AF_XDP, as the uplink's
 * {@link Transport} chose), its state as the link watcher and the data path see it, and its counters. The socket and
 * the fields below it are the data path's; state and transport are written by the data path and read by anyone.
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
    /** What carries the frames of the socket in use ({@link NicSocket#transport}), or null while none is. */
    volatile String transport;
    /** Data path: the socket in use, or null. */
    NicSocket socket;
    /** Data path: the socket is in the data-path thread's epoll set (only while that thread sleeps). */
    boolean watched;
    /** Data path: frames were queued on the socket since its last kick. */
    boolean pending;
    /** Data path: kicks in a row that the kernel refused. */
    int failedKicks;
    long lastTxErrors;
    /** Data path: the transition waiting for its first frame out on this NIC, or null. */
    Failover awaitingFirstFrame;
    /** The receive handler bound to this NIC (allocated once). */
    NicSocket.FrameHandler handler;
    /** What earlier sockets of this NIC counted (it is opened anew when its interface is created again). */
    private final long[] base = new long[8];

    private static long[] read(NicSocket s) {
        return new long[] {s.rxFrames(), s.rxBytes(), s.txFrames(), s.txBytes(), s.txRingFull(), s.txTooBig(),
            s.txErrors(), s.rxKernelDrops()};
    }

    /** Data path: uses socket from now (null: none), keeping what the one it replaces counted. */
    void use(NicSocket next) {
        mirror();
        if (socket != null) {
            long[] v = read(socket);
            for (int k = 0; k < v.length; k++) {
                base[k] += v[k];
            }
        }
        socket = next;
        lastTxErrors = next == null ? 0 : next.txErrors();
        transport = next == null ? null : next.transport();
    }

    /** Data path: copies the socket's own counters into the NIC's block (in the order of {@link #read}). */
    void mirror() {
        NicSocket s = socket;
        if (s == null) {
            return;
        }
        counters.set(NicCounter.RX_FRAMES.ordinal(), base[0] + s.rxFrames());
        counters.set(NicCounter.RX_BYTES.ordinal(), base[1] + s.rxBytes());
        counters.set(NicCounter.TX_FRAMES.ordinal(), base[2] + s.txFrames());
        counters.set(NicCounter.TX_BYTES.ordinal(), base[3] + s.txBytes());
        counters.set(NicCounter.TX_RING_FULL.ordinal(), base[4] + s.txRingFull());
        counters.set(NicCounter.TX_TOO_BIG.ordinal(), base[5] + s.txTooBig());
        counters.set(NicCounter.TX_ERRORS.ordinal(), base[6] + s.txErrors());
        counters.set(NicCounter.RX_KERNEL_DROPS.ordinal(), base[7] + s.rxKernelDrops());
    }

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

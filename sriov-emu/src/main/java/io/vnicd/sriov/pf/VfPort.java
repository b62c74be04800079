package io.vnicd.sriov.pf;

import io.vnicd.devmodel.counter.CounterBlock;
import io.vnicd.devmodel.port.Port;
import io.vnicd.virtio.net.VirtioNetBackend;

import java.lang.foreign.MemorySegment;
import java.util.function.IntSupplier;

/**
 * A VF as a switch port: a frame for it goes straight into its driver's RX queue, or waits in the VF's RX
 * backlog (in the PF's buffer pool, under the VF's quota) while the driver has no buffers posted; once frames
 * wait, later ones queue behind them, so that they arrive in order. With the quota used up the port is busy: the
 * frame's sender waits (bounded) instead of losing it. Its poll is the device's: a burst from each TX queue into
 * the PF's ingress.
 */
final class VfPort implements Port {
    private final String name;
    private final VirtioNetBackend device;
    private final CounterBlock counters;
    /** The NUMA node whose pool holds a frame that must wait (the PF's placement policy). */
    private final IntSupplier holdNode;
    private RxBacklog backlog;

    VfPort(String name, VirtioNetBackend device, CounterBlock counters, IntSupplier holdNode) {
        this.name = name;
        this.device = device;
        this.counters = counters;
        this.holdNode = holdNode;
    }

    /** The VF's backlog (null: frames without RX buffers are dropped); set before the data path starts. */
    void attach(RxBacklog b) {
        backlog = b;
    }

    RxBacklog backlog() {
        return backlog;
    }

    VirtioNetBackend device() {
        return device;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public Kind kind() {
        return Kind.VF;
    }

    @Override
    public CounterBlock counters() {
        return counters;
    }

    /** DROPPED when the VF's driver is not there or the frame is too big to hold; BUSY when its quota is full. */
    @Override
    public int send(MemorySegment frame, long offset, int length, int vlan) {
        RxBacklog b = backlog;
        if (b == null || b.isEmpty()) {
            if (device.receive(frame, offset, length)) {
                return SENT;
            }
            if (b == null || !device.isLinkReady()) {
                return DROPPED;
            }
        }
        return switch (b.hold(holdNode.getAsInt(), frame, offset, length)) {
            case RxBacklog.HELD_OK -> SENT;
            case RxBacklog.OVER_QUOTA -> BUSY;
            default -> DROPPED;
        };
    }

    @Override
    public boolean linkUp() {
        return device.isLinkReady();
    }

    @Override
    public void beforePoll() {
        device.beforePoll();
    }

    @Override
    public int poll() {
        return device.poll();
    }

    @Override
    public void flush() {
        device.flush();
    }

    @Override
    public boolean prepareToSleep() {
        return device.prepareToSleep();
    }

    @Override
    public void wokeUp() {
        device.wokeUp();
    }

    @Override
    public void failed(Throwable cause) {
        device.failed(cause);
    }

    @Override
    public String toString() {
        return device.toString();
    }
}

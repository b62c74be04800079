package io.vnicd.sriov.pf;

import io.vnicd.devmodel.port.Port;
import io.vnicd.virtio.net.VirtioNetBackend;

import java.lang.foreign.MemorySegment;
import java.util.function.IntSupplier;

/**
 * A VF as a switch port: a frame for it goes straight into its driver's RX queue, or waits in the VF's RX
 * backlog (in the PF's buffer pool, under the VF's quota) while the driver has no buffers posted; once frames
 * wait, later ones queue behind them, so that they arrive in order.
 */
final class VfPort implements Port {
    private final VirtualFunction vf;
    private final VirtioNetBackend device;
    /** The NUMA node whose pool holds a frame that must wait (the PF's placement policy). */
    private final IntSupplier holdNode;
    private RxBacklog backlog;

    VfPort(VirtualFunction vf, IntSupplier holdNode) {
        this.vf = vf;
        this.device = vf.device();
        this.holdNode = holdNode;
    }

    /** The VF's backlog (null: frames without RX buffers are dropped); set before the data path starts. */
    void attach(RxBacklog b) {
        backlog = b;
    }

    RxBacklog backlog() {
        return backlog;
    }

    VirtualFunction vf() {
        return vf;
    }

    @Override
    public String name() {
        return vf.name();
    }

    @Override
    public Kind kind() {
        return Kind.VF;
    }

    /** False (a counted drop) when the VF's driver is not there, or its backlog is at its quota. */
    @Override
    public boolean send(MemorySegment frame, long offset, int length) {
        RxBacklog b = backlog;
        if (b == null || b.isEmpty()) {
            if (device.receive(frame, offset, length)) {
                return true;
            }
            if (b == null || !device.isLinkReady()) {
                return false;
            }
        }
        return b.hold(holdNode.getAsInt(), frame, offset, length);
    }

    @Override
    public boolean linkUp() {
        return device.isLinkReady();
    }
}

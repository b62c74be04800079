package io.vnicd.sriov.uplink;

import io.vnicd.devmodel.counter.CounterType;

/**
 * What one backing NIC counts (scope {@code nic}, labels pf and nic). The socket's own counts (frames, bytes, its
 * drop reasons, the kernel's drops) are mirrored into the block each data-path round.
 */
public enum NicCounter implements CounterType {
    RX_FRAMES("Frames received from the wire on this NIC"),
    RX_BYTES("Bytes received from the wire on this NIC"),
    TX_FRAMES("Frames put on this NIC's transmit ring"),
    TX_BYTES("Bytes put on this NIC's transmit ring"),
    TX_RING_FULL("Frames dropped because the NIC's transmit ring was full", true),
    TX_TOO_BIG("Frames dropped because they exceed the NIC's frame size (never truncated)", true),
    TX_ERRORS("Transmit kicks the kernel refused (interface gone or down) or frames it rejected", true),
    RX_KERNEL_DROPS("Frames the kernel dropped because the receive ring was full", true),
    RX_INACTIVE("Frames received on a NIC that does not take them now (a standby NIC; group frames on a secondary), dropped", true),
    RX_LOOPED("Frames received from the wire with the source MAC of one of this PF's own VFs (a loop), dropped", true),
    RX_CHECKSUMS_COMPLETED("Frames from a sender on this host whose TCP/UDP checksum the uplink completed (offloaded to the device)"),
    ANNOUNCEMENTS("Gratuitous ARP and RARP frames sent for VFs moved onto this NIC"),
    CARRIER_LOSSES("Times this NIC lost its carrier, went down or disappeared"),
    FAILOVERS_TO("Times VFs were remapped onto this NIC");

    private final String description;
    private final boolean drop;

    NicCounter(String description) {
        this(description, false);
    }

    NicCounter(String description, boolean drop) {
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

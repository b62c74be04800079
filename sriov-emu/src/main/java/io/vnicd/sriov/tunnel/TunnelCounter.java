package io.vnicd.sriov.tunnel;

import io.vnicd.devmodel.counter.CounterType;

/** What a VXLAN port counts beyond the switch's view (scope {@code tunnel}, labels pf and port). */
public enum TunnelCounter implements CounterType {
    ENCAPSULATED("Frames sent into a segment (once per VTEP a flooded frame went to)"),
    DECAPSULATED("Frames received from a segment"),
    TOO_BIG("Frames dropped: larger than the path's MTU allows after encapsulation (never fragmented)", true),
    NO_SEGMENT("Frames dropped: their VLAN is carried by no segment", true),
    NO_VTEP("Frames dropped: a flooded frame of a segment with no remote VTEP", true),
    UNKNOWN_VNI("Datagrams dropped: a VNI this PF does not join", true),
    UNKNOWN_SOURCE("Datagrams dropped: from an address that is none of the segment's VTEPs", true),
    MALFORMED("Datagrams dropped: not VXLAN (too short, the I flag clear)", true),
    SEND_ERRORS("Datagrams the kernel refused or could not take (routing, a full buffer)", true),
    RX_OVERFLOWS("Datagrams the kernel dropped before vnicd read them: the socket's receive buffer was full", true),
    LEARNED("Remote MACs learned behind a VTEP");

    private final String description;
    private final boolean drop;

    TunnelCounter(String description) {
        this(description, false);
    }

    TunnelCounter(String description, boolean drop) {
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

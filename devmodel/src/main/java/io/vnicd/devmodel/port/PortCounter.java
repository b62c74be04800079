package io.vnicd.devmodel.port;

import io.vnicd.devmodel.counter.CounterType;

/** The counters every port's block starts with, as the switch and the PF's ingress see the port. */
public enum PortCounter implements CounterType {
    IN_FRAMES("Frames the port sent into the switch"),
    IN_BYTES("Bytes the port sent into the switch"),
    OUT_FRAMES("Frames the switch delivered to the port"),
    OUT_BYTES("Bytes the switch delivered to the port"),
    OUT_DROPS("Frames for the port it could not take (no RX buffers, queue down, NIC ring full), dropped", true),
    FLOODED("Frames from the port flooded (broadcast, multicast, unknown destination)"),
    FILTERED("Frames from the port dropped because their destination is on the same port", true),
    RUNTS("Frames from the port too short for an Ethernet header, dropped", true),
    SPOOFED("Frames from the port with a source MAC it may not use (spoofchk), dropped", true),
    RULE_DROPS("Frames from the port dropped by a flow rule or over a DoS budget", true),
    WAITS("Times a frame for the port made its sender wait because the port's quota was full"),
    WAIT_DROPS("Frames for the port dropped after their sender waited the longest it may", true);

    private final String description;
    private final boolean drop;

    PortCounter(String description) {
        this(description, false);
    }

    PortCounter(String description, boolean drop) {
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

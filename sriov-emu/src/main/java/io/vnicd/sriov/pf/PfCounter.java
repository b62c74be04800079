package io.vnicd.sriov.pf;

import io.vnicd.devmodel.counter.CounterType;

/** What a PF counts of its own (scope {@code pf}); what it counts per port is in each port's block. */
public enum PfCounter implements CounterType {
    STEERED("Frames a flow rule steered to a port"),
    MONITORED("Frames a flow rule copied (or took) to the monitor ring"),
    RULE_DROPS("Frames dropped by a flow rule or over a DoS attack's budget", true),
    SPOOFED("Frames a VF sent from a source MAC it may not use (spoofchk), dropped", true),
    STANDBY_QUEUED("Contained (DoS) frames queued on the standby ring"),
    STANDBY_SERVED("Frames the standby ring passed on to the switch, within its budget"),
    STANDBY_FULL("Contained frames dropped because the standby ring was full", true),
    WAIT_DROPS("Frames dropped after waiting the longest a sender may for a destination's quota", true);

    private final String description;
    private final boolean drop;

    PfCounter(String description) {
        this(description, false);
    }

    PfCounter(String description, boolean drop) {
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

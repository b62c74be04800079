package io.vnicd.sriov.peer;

import io.vnicd.devmodel.counter.CounterType;

/** What a proxy VNIC counts of its channel and its peer (scope {@code proxy}, labels pf and port). */
public enum ProxyCounter implements CounterType {
    RING_FULL("Frames for the peer dropped because the channel's ring was full", true),
    TOO_BIG("Frames for the peer dropped because they exceed a channel slot (never truncated)", true),
    NO_PEER("Frames for the peer dropped while no channel was up (the peer gone, not back yet)", true),
    CORRUPTIONS("Times the peer wrote what the channel's layout forbids: the channel was torn down"),
    PEER_LOSSES("Times the peer went away (its socket hung up, it broke the protocol)"),
    SESSIONS("Channels built with the peer (the first, and each time it came back)"),
    ADDRESSES("Addresses of the peer's VNICs mapped to this proxy now");

    private final String description;
    private final boolean drop;

    ProxyCounter(String description) {
        this(description, false);
    }

    ProxyCounter(String description, boolean drop) {
        this.description = description;
        this.drop = drop;
    }

    @Override
    public String description() {
        return description;
    }

    @Override
    public boolean isGauge() {
        return this == ADDRESSES;
    }

    @Override
    public boolean isDrop() {
        return drop;
    }
}

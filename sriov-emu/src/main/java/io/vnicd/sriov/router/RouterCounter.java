package io.vnicd.sriov.router;

import io.vnicd.devmodel.counter.CounterType;

/** What a virtual router's VNIC on one PF counts (scope {@code router}, label pf). */
public enum RouterCounter implements CounterType {
    FORWARDED("IPv4 packets routed between subnets (out of this PF or into it)"),
    ARP_REPLIES("ARP requests for the router's own addresses answered"),
    PROXY_ARP_REPLIES("ARP requests answered for a host on the other side of the router (proxy ARP)"),
    ANNOUNCEMENTS("Gratuitous ARPs sent: a host moved, its neighbours learn where to send"),
    ARP_REQUESTS("ARP requests sent to resolve a next hop"),
    ARP_MISSES("Packets dropped because their next hop was not resolved yet (an ARP request went out)", true),
    TTL_EXCEEDED("Packets dropped at TTL 1 or 0 (ICMP time exceeded sent back)", true),
    UNREACHABLE("Packets dropped with no route to their destination (ICMP destination unreachable sent back)", true),
    ECHO_REPLIES("ICMP echo requests to the router's addresses answered"),
    MALFORMED("Frames to the router that are not well-formed ARP or IPv4", true),
    CHANNEL_FULL("Routed packets dropped because the channel to the other PF's VNIC was full", true),
    IGNORED("Frames the switch flooded to the router that are not for it (nothing is lost: others got them)");

    private final String description;
    private final boolean drop;

    RouterCounter(String description) {
        this(description, false);
    }

    RouterCounter(String description, boolean drop) {
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

package io.vnicd.devmodel.port;

import io.vnicd.devmodel.counter.CounterBlock;

import java.lang.foreign.MemorySegment;

/**
 * One port of a PF's switch, whatever its kind: OVS's {@code netdev_class}, Crossbow's MAC client. The switch and
 * the classifier hand frames to it with {@link #send}; as a {@link Pollable}, the PF's data-path thread polls it
 * each round, and what it received then (a burst from a guest's TX queue, a NIC's RX ring, a channel) it hands to
 * the PF's ingress; {@link Pollable#flush()} at the end of the round pushes what {@link #send} queued (used rings,
 * a NIC's TX ring kick).
 * <p>
 * Everything runs on the data-path thread except {@link #linkUp()}, {@link #counters()} and the names. A frame
 * handed to {@link #send} is valid only during the call, so the port copies it. A frame the port cannot take is
 * counted under its reason and answered {@link #DROPPED} or, when the port will take it once its receiver catches
 * up (a VF's RX quota is full), {@link #BUSY}: the sender may then wait, bounded, instead of losing it.
 */
public interface Port extends Pollable {
    /** {@link #send}: the port took the frame. */
    int SENT = 0;
    /** {@link #send}: not now, the receiver is behind (its quota is full); the sender may retry. Nothing counted yet. */
    int BUSY = 1;
    /** {@link #send}: the port could not take the frame and counted why. */
    int DROPPED = 2;

    /** The kinds of port a switch joins. */
    enum Kind {
        /** A virtual function: a virtio-net device on a vhost-user socket. */
        VF,
        /** The PF's way to the wire: one or more backing NICs, aggregated. */
        UPLINK,
        /** Stands in for a VNIC of another execution environment on this host. */
        PROXY,
        /** An overlay to other hosts (VXLAN). */
        TUNNEL,
        /** A virtual router with one VNIC per subnet. */
        ROUTER
    }

    String name();

    Kind kind();

    /**
     * Takes one frame out of the switch.
     *
     * @param vlan the VLAN the frame is switched in (0: untagged); an access port (a VF) delivers it untagged, a
     *             trunk (the uplink) tags it
     * @return {@link #SENT}, {@link #BUSY} or {@link #DROPPED}
     */
    int send(MemorySegment frame, long offset, int length, int vlan);

    /** True while the port can carry frames (a VF's driver is up, an uplink has a healthy NIC). */
    boolean linkUp();

    /** The port's counters (scope {@code port}), the switch's {@link PortCounter}s among them. */
    CounterBlock counters();

    /** True when frames carry their VLAN on this port (tagged), false when the port belongs to one VLAN. */
    default boolean isTrunk() {
        return false;
    }
}

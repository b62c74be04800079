package io.vnicd.devmodel.port;

import java.lang.foreign.MemorySegment;

/**
 * One port of a PF's switch, whatever its kind. The switch and the classifier hand frames to it with
 * {@link #send}; what it receives it hands to the PF's ingress from its owner's poll on the data-path thread.
 * <p>
 * {@link #send} runs on the data-path thread; the frame is valid only during the call, so the port copies it
 * (into guest memory, a NIC's ring, a channel). A frame the port cannot take is counted by the port under its
 * reason and reported as false, so that the switch counts an output drop.
 */
public interface Port {
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

    /** Takes one frame out of the switch; false when it could not (counted by the port). */
    boolean send(MemorySegment frame, long offset, int length);

    /** True while the port can carry frames (a VF's driver is up, an uplink has a healthy NIC). */
    boolean linkUp();
}

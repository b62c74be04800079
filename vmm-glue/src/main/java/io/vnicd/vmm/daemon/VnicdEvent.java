package io.vnicd.vmm.daemon;

import java.time.Instant;

/**
 * What a VM manager embedding vnicd hears about ({@link Vnicd#subscribe}): a VF's frontend connecting or going, a
 * VF's link changing, a VF added or removed at run time, a backing NIC changing state, a failover.
 */
public sealed interface VnicdEvent {
    /** When the daemon noticed it. */
    Instant at();

    /** The PF it happened on. */
    String pf();

    /** A frontend (QEMU, testpmd) connected to the VF. */
    record FrontendConnected(Instant at, String pf, String vf) implements VnicdEvent {
    }

    /** The VF's frontend went away (reason: why the daemon closed it, or "" when the frontend hung up). */
    record FrontendGone(Instant at, String pf, String vf, String reason) implements VnicdEvent {
    }

    /** The VF's link as its guest sees it went up or down (the wire, or the link state set by hand). */
    record LinkChanged(Instant at, String pf, String vf, boolean up) implements VnicdEvent {
    }

    /** A VF was added at run time. */
    record VfAdded(Instant at, String pf, String vf) implements VnicdEvent {
    }

    /** A VF was removed at run time. */
    record VfRemoved(Instant at, String pf, String vf) implements VnicdEvent {
    }

    /** A backing NIC changed state (active, standby, failed, absent). */
    record NicState(Instant at, String pf, String nic, String from, String to) implements VnicdEvent {
    }

    /** The uplink moved its stations from one NIC to another (to: null when none was healthy). */
    record Failover(Instant at, String pf, String from, String to, String reason, int stations, long remapMicros)
            implements VnicdEvent {
    }
}

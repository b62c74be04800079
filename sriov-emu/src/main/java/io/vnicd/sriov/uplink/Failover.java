package io.vnicd.sriov.uplink;

import java.time.Instant;

/**
 * One transition of an uplink: a PNIC failed (or came back with failback on) and the stations mapped to it moved.
 * Times are nanoTime readings; a step not reached yet is 0.
 *
 * @param from          the PNIC that failed
 * @param to            the PNIC the stations moved to, or null when none was healthy (the PF's link went down)
 * @param reason        what was seen: carrier lost, set down, deleted, transmit failing, preferred NIC back
 * @param seenNanos     when the failure was seen (the rtnetlink event read, the carrier read, the failing kick)
 * @param remappedNanos when the data path had moved the stations
 * @param stations      stations moved
 * @param announced     announcements sent on the new PNIC
 * @param firstFrameNanos when the first frame of traffic left by the new PNIC after the move
 */
public record Failover(String from, String to, String reason, Instant at, long seenNanos, long remappedNanos,
                       int stations, int announced, long firstFrameNanos) {

    Failover withReason(String why) {
        return new Failover(from, to, why, at, seenNanos, remappedNanos, stations, announced, firstFrameNanos);
    }

    Failover withFirstFrame(long nanos) {
        return new Failover(from, to, reason, at, seenNanos, remappedNanos, stations, announced, nanos);
    }

    /** Microseconds from the failure seen to the stations moved. */
    public long remapMicros() {
        return remappedNanos == 0 ? -1 : (remappedNanos - seenNanos) / 1000;
    }

    /** Microseconds from the failure seen to the first frame of traffic on the new PNIC, or -1 (none yet). */
    public long firstFrameMicros() {
        return firstFrameNanos == 0 ? -1 : (firstFrameNanos - seenNanos) / 1000;
    }

    @Override
    public String toString() {
        return from + " " + reason + " -> " + (to == null ? "no healthy NIC" : to) + ": " + stations + " station(s) moved in "
                + remapMicros() + " us, " + announced + " announcement(s)"
                + (firstFrameNanos == 0 ? "" : ", first frame out " + firstFrameMicros() + " us after the failure was seen");
    }
}

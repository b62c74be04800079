package io.vnicd.sriov.uplink;

import java.util.Locale;

/** How an uplink with several healthy PNICs picks the one a frame leaves by. */
public enum AggregationPolicy {
    /**
     * Every frame leaves by the first healthy PNIC in order of preference; the others stand by, and only the active
     * one's received frames are taken (Linux bonding's active-backup). Works with any switch at the far end.
     */
    ACTIVE_BACKUP("active-backup"),
    /**
     * Each VF (each source MAC) is mapped to one healthy PNIC, the least loaded when it is first seen, and stays
     * there until that PNIC fails: VFs spread, each one's traffic keeps to one port of the far switch (US20120005521's
     * mapping). Group-addressed frames are taken from the first healthy PNIC only.
     */
    VF("vf"),
    /** A hash of source and destination MAC picks the PNIC (bonding's xmit_hash_policy layer2). Needs an aggregating far end. */
    L2("l2"),
    /**
     * A hash of IP addresses and TCP/UDP ports picks the PNIC (layer3+4): a connection keeps to one PNIC, in order,
     * while many connections spread. Needs a far end that treats the PNICs as one aggregate (static LAG, LACP).
     */
    L34("l34");

    private final String word;

    AggregationPolicy(String word) {
        this.word = word;
    }

    public String word() {
        return word;
    }

    /** Parses the configuration word (active-backup, vf, l2, l34; also layer2, layer3+4). */
    public static AggregationPolicy parse(String text) {
        String t = text.trim().toLowerCase(Locale.ROOT);
        for (AggregationPolicy p : values()) {
            if (p.word.equals(t)) {
                return p;
            }
        }
        return switch (t) {
            case "layer2" -> L2;
            case "layer3+4", "l3+l4", "l3l4" -> L34;
            default -> throw new IllegalArgumentException("'" + text + "' is not an aggregation policy (active-backup, vf, l2, l34)");
        };
    }

    @Override
    public String toString() {
        return word;
    }
}

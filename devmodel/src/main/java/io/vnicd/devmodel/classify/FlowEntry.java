package io.vnicd.devmodel.classify;

import io.vnicd.devmodel.counter.Counter;

/**
 * One compiled entry of a flow table: the rule it came from, its rank in the table (lower wins), where a
 * match sends the frame, and its hit counter, which lives on across rule-set swaps while the rule keeps its
 * name and table.
 */
public final class FlowEntry {
    private final RuleSpec spec;
    private final Match match;
    private final Action action;
    final int rank;
    final int target;
    final int cookie;
    final Counter hits;
    /** The sub-table a match continues in, or null for a delivery or drop; set once while compiling. */
    FlowTable next;

    FlowEntry(RuleSpec spec, Match match, Action action, int target, int rank, int cookie, Counter hits) {
        this.spec = spec;
        this.match = match;
        this.action = action;
        this.rank = rank;
        this.target = target;
        this.cookie = cookie;
        this.hits = hits;
    }

    public String name() {
        return spec.name();
    }

    public String table() {
        return spec.table();
    }

    public RuleSpec spec() {
        return spec;
    }

    public Match match() {
        return match;
    }

    public Action action() {
        return action;
    }

    /** Position in its table after sorting by order: the first entry that matches, by rank, wins. */
    public int rank() {
        return rank;
    }

    /** Frames this entry matched (that is, frames for which it was the first match in its table). */
    public long hits() {
        return hits.get();
    }

    @Override
    public String toString() {
        return spec.table() + "/" + spec.name() + " #" + rank + " " + match + " -> " + action + " hits=" + hits.get();
    }
}

package io.vnicd.devmodel.classify;

import io.vnicd.devmodel.counter.Counter;

import java.util.List;

/**
 * One compiled flow table (US7848331): entries in order; the first that matches decides, a frame that
 * matches none gets the table's miss result and is counted. Entries are grouped by mask into tuple tables,
 * visited best-first, and a tuple whose best entry ranks behind the match already found is skipped, so a
 * lookup costs one hash probe per distinct mask at worst, however many entries there are.
 */
public final class FlowTable {
    private final String name;
    private final List<FlowEntry> entries;
    private final TupleTable[] tuples;
    final int missResult;
    final Counter misses;

    FlowTable(String name, List<FlowEntry> entries, TupleTable[] tuples, int missResult, Counter misses) {
        this.name = name;
        this.entries = List.copyOf(entries);
        this.tuples = tuples;
        this.missResult = missResult;
        this.misses = misses;
    }

    /** The first entry by rank that matches the key words, or null. Allocates nothing. */
    FlowEntry lookup(long[] key) {
        FlowEntry best = null;
        int bestRank = Integer.MAX_VALUE;
        for (TupleTable t : tuples) {
            if (t.bestRank >= bestRank) {
                break;
            }
            FlowEntry e = t.lookup(key);
            if (e != null && e.rank < bestRank) {
                best = e;
                bestRank = e.rank;
            }
        }
        return best;
    }

    public String name() {
        return name;
    }

    /** Entries in rank order. */
    public List<FlowEntry> entries() {
        return entries;
    }

    /** Distinct masks among the entries: the number of hash probes a lookup may take. */
    public int tupleCount() {
        return tuples.length;
    }

    /** What a frame that matches no entry gets: a target id, {@link Classifier#DROP} or {@link Classifier#MISS}. */
    public int missResult() {
        return missResult;
    }

    /** Frames that matched no entry here. */
    public long misses() {
        return misses.get();
    }

    @Override
    public String toString() {
        return "table " + name + " (" + entries.size() + " entries, " + tuples.length + " masks, misses " + misses.get() + ")";
    }
}

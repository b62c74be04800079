package io.vnicd.devmodel.classify;

import io.vnicd.devmodel.counter.CounterBlock;
import io.vnicd.devmodel.counter.CounterRegistry;
import io.vnicd.devmodel.counter.CounterType;

/**
 * An exact-match cache of classification results, one per data-path thread (like Open vSwitch's EMC): a
 * frame whose key was classified recently under the same rule set skips the tuple probes and costs one hash
 * and one compare. A slot remembers the whole walk (the entry matched in each table, and the table that
 * missed, if one did), and a hit replays it: the same hit and miss counters go up as a full lookup would
 * have raised, so counters stay exact. A slot filled under another rule set is stale and simply refilled,
 * so an update needs no flush.
 *
 * <pre>
 * slot i:  keys[i*7 .. i*7+6]   the full key words
 *          sets[i]              the rule set the walk was made in (null: empty)
 *          path[i*4 .. ]        entries matched, table by table (walks deeper than 4 are not cached)
 *          missTable[i]         the table that missed at the end, or null
 *          result[i], cookie[i] what the walk returned and left in the key
 * </pre>
 *
 * Direct-mapped: two hot flows that share a slot take turns. A slot keeps its rule set reachable until it is
 * refilled, so a replaced set lingers in memory while stale slots remain. Not thread-safe: one per thread,
 * like the key.
 */
public final class FlowCache {
    static final int MAX_DEPTH = 4;

    private final int slotMask;
    private final long[] keys;
    private final RuleSet[] sets;
    private final FlowEntry[] path;
    private final byte[] depth;
    private final FlowTable[] missTable;
    private final int[] result;
    private final int[] cookie;
    private final CounterBlock counters;

    /** The cache's own counters, in the daemon's counter registry (scope {@code flowCache}). */
    public enum CacheCounter implements CounterType {
        HITS("Lookups answered from the cache"),
        MISSES("Lookups that walked the tables");

        private final String description;

        CacheCounter(String description) {
            this.description = description;
        }

        @Override
        public String description() {
            return description;
        }
    }

    /** @param slots rounded up to a power of two; 4096 holds the working set of a busy port */
    public FlowCache(int slots) {
        if (slots < 1 || slots > (1 << 24)) {
            throw new IllegalArgumentException("flow cache slots must be 1.." + (1 << 24) + ", got " + slots);
        }
        int n = Integer.highestOneBit(slots - 1 == 0 ? 1 : (slots - 1) << 1);
        slotMask = n - 1;
        keys = new long[n * FlowKey.WORDS];
        sets = new RuleSet[n];
        path = new FlowEntry[n * MAX_DEPTH];
        depth = new byte[n];
        missTable = new FlowTable[n];
        result = new int[n];
        cookie = new int[n];
        counters = CounterRegistry.process().register("flowCache", java.util.Map.of(), CacheCounter.values());
    }

    /** Gives the cache's counters back to the registry. */
    public void close() {
        counters.close();
    }

    /** Lookups answered from the cache. */
    public long hits() {
        return counters.get(CacheCounter.HITS);
    }

    /** Lookups that walked the tables. */
    public long misses() {
        return counters.get(CacheCounter.MISSES);
    }

    int slotOf(long[] w) {
        long h = 0x2545_F491_4F6C_DD1DL;
        for (int i = 0; i < FlowKey.WORDS; i++) {
            h ^= w[i];
            h *= 0x9E37_79B9_7F4A_7C15L;
            h ^= h >>> 32;
        }
        return (int) h & slotMask;
    }

    /** Replays the walk cached in {@code slot} if it was made for this key in this rule set; else returns false. */
    boolean replay(int slot, RuleSet set, FlowKey key) {
        if (sets[slot] != set) {
            counters.increment(CacheCounter.MISSES.ordinal());
            return false;
        }
        long[] w = key.words;
        int base = slot * FlowKey.WORDS;
        for (int i = 0; i < FlowKey.WORDS; i++) {
            if (keys[base + i] != w[i]) {
                counters.increment(CacheCounter.MISSES.ordinal());
                return false;
            }
        }
        int p = slot * MAX_DEPTH;
        for (int d = 0; d < depth[slot]; d++) {
            path[p + d].hits.increment();
        }
        FlowTable t = missTable[slot];
        if (t != null) {
            t.misses.increment();
        }
        key.cookie = cookie[slot];
        counters.increment(CacheCounter.HITS.ordinal());
        return true;
    }

    int result(int slot) {
        return result[slot];
    }

    /** Starts recording a walk into {@code slot}; it becomes valid only when {@link #finish} is called. */
    void begin(int slot, long[] w) {
        sets[slot] = null;
        System.arraycopy(w, 0, keys, slot * FlowKey.WORDS, FlowKey.WORDS);
        depth[slot] = 0;
    }

    /** Records the entry matched at the next level; returns false when the walk is too deep to cache. */
    boolean record(int slot, FlowEntry e) {
        int d = depth[slot];
        if (d == MAX_DEPTH) {
            return false;
        }
        path[slot * MAX_DEPTH + d] = e;
        depth[slot] = (byte) (d + 1);
        return true;
    }

    void finish(int slot, RuleSet set, FlowTable missed, int walkResult, int walkCookie) {
        missTable[slot] = missed;
        result[slot] = walkResult;
        cookie[slot] = walkCookie;
        sets[slot] = set;
    }
}

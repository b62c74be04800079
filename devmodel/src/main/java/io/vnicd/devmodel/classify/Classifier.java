package io.vnicd.devmodel.classify;

import io.vnicd.devmodel.counter.CounterRegistry;
import io.vnicd.devmodel.counter.CounterSlots;
import io.vnicd.devmodel.packet.PacketHeaders;

import java.util.List;
import java.util.Map;
import java.util.function.ToIntFunction;

/**
 * The classifier of a physical function: the rule set in force, and the way to replace it while frames
 * flow. The data path reads one volatile reference per frame and walks an immutable {@link RuleSet};
 * an update compiles a whole new set aside and swaps the reference only when the set compiled, so a bad
 * update leaves the running one untouched (copy-on-write). Counters of rules and tables that keep their
 * names carry over to the new set.
 *
 * <pre>{@code
 * Classifier classifier = new Classifier();
 * classifier.install(tableSpecs, ruleSpecs);      // RuleSetException lists every problem; nothing changes then
 * // data path, per thread: one PacketHeaders and one FlowKey, reused for every frame
 * PacketParser.parse(frame, offset, length, headers);
 * int target = classifier.classify(headers, key); // a target id >= 0 (Target), DROP or MISS
 * // or, with a per-thread exact-match cache (same results and counters, one probe for a known flow):
 * int cached = classifier.classify(headers, key, flowCache);
 * long hits = classifier.hits("root", "web");     // or walk ruleSet().tables() -> entries() -> hits()
 * }</pre>
 *
 * <p>Threads: one data-path thread classifies (it owns the counters, see {@link io.vnicd.devmodel.counter.Counter}); any
 * thread may update, read counters or the rule set. Updates are serialised.
 */
public final class Classifier {
    /** Result of a frame no entry matched in a table without a miss action: the caller's default applies. */
    public static final int MISS = -1;
    /** Result of a frame an entry (or a table's miss action) drops; counted by the entry or table. */
    public static final int DROP = -2;

    private final CounterSlots counters;
    private volatile ToIntFunction<String> ports;
    private volatile RuleSet current;

    /** A classifier on its own: actions deliver to rings ({@code ring:N}) or special targets; no port names. */
    public Classifier() {
        this(new CounterSlots(CounterRegistry.process(), "rules", Map.of()), RuleSet.NO_PORTS);
    }

    /**
     * @param counters where rule hits and table misses count
     * @param ports    a port name's id (0 .. {@link Target#SPECIAL_BASE}-1), or -1 when the PF has no such port
     */
    public Classifier(CounterSlots counters, ToIntFunction<String> ports) {
        this.counters = counters;
        this.ports = ports;
        this.current = RuleSet.empty(counters);
    }

    /** Changes how port names resolve (ports come and go); takes effect with the next install. */
    public void setPorts(ToIntFunction<String> ports) {
        this.ports = ports;
    }

    /**
     * Classifies a parsed frame: loads {@code key} from {@code headers} and walks the tables. Allocates nothing.
     *
     * @return the target id (&gt;= 0), {@link #DROP} or {@link #MISS}
     */
    public int classify(PacketHeaders headers, FlowKey key) {
        return current.classify(key.load(headers));
    }

    /**
     * As {@link #classify(PacketHeaders, FlowKey)}, through the calling thread's exact-match cache: a flow
     * seen recently under the rule set in force costs one hash probe instead of one per mask. Counters
     * come out the same as without the cache.
     */
    public int classify(PacketHeaders headers, FlowKey key, FlowCache cache) {
        return current.classify(key.load(headers), cache);
    }

    /** Classifies an already loaded key. */
    public int classify(FlowKey key) {
        return current.classify(key);
    }

    /** The rule set in force. */
    public RuleSet ruleSet() {
        return current;
    }

    /**
     * Replaces the configured tables and rules, keeping the containment rules.
     *
     * @return the new rule set, now in force
     * @throws RuleSetException if it does not compile; the running set stays in force
     */
    public synchronized RuleSet install(List<TableSpec> tables, List<RuleSpec> rules) throws RuleSetException {
        RuleSet old = current;
        RuleSet next = RuleSet.compile(tables, rules, old.containment(), old, ports, counters);
        current = next;
        old.releaseCountersNotIn(next);
        return next;
    }

    /**
     * Replaces the containment rules (ahead of every configured rule in the root table), keeping the
     * configured ones. Rule i gets cookie i.
     *
     * @throws RuleSetException if it does not compile; the running set stays in force
     */
    public synchronized RuleSet installContainment(List<RuleSpec> containment) throws RuleSetException {
        RuleSet old = current;
        RuleSet next = RuleSet.compile(old.tableSpecs(), old.rules(), containment, old, ports, counters);
        current = next;
        old.releaseCountersNotIn(next);
        return next;
    }

    /** Hits of a rule, or -1 when the rule set in force has no such rule. */
    public long hits(String table, String rule) {
        FlowEntry e = current.entry(table, rule);
        return e == null ? -1 : e.hits();
    }

    /** Frames that matched nothing in a table, or -1 when there is no such table. */
    public long misses(String table) {
        FlowTable t = current.table(table);
        return t == null ? -1 : t.misses();
    }
}

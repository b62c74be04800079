package io.vnicd.devmodel.classify;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Collections;
import java.util.Comparator;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.ToIntFunction;

import io.vnicd.devmodel.counter.Counter;
import io.vnicd.devmodel.counter.CounterRegistry;
import io.vnicd.devmodel.counter.CounterSlots;

/**
 * A compiled, immutable set of named flow tables. Every frame starts in {@link #ROOT}; an entry sends it to
 * a target or on to a sub-table, where the walk goes on (and never comes back: the traversal of a table
 * stops at its first match). Compiling checks the whole set first and reports every problem, naming rule
 * and table, so a bad update is refused as a whole.
 *
 * <p>Containment rules (from DoS containment) are compiled into the root table ahead of every configured
 * rule whatever their order, and carry a cookie (their index) that the classification leaves in the
 * {@link FlowKey}.
 */
public final class RuleSet {
    /** The table every frame starts in. */
    public static final String ROOT = "root";

    private final Map<String, FlowTable> tables;
    private final FlowTable root;
    private final List<TableSpec> tableSpecs;
    private final List<RuleSpec> rules;
    private final List<RuleSpec> containment;
    private final List<FlowEntry> shadowed;
    /** Entries by table and name, for counter reads and for carrying counters over: no scans of big tables. */
    private final Map<String, FlowEntry> byName = new HashMap<>();

    private RuleSet(Map<String, FlowTable> tables, List<TableSpec> tableSpecs, List<RuleSpec> rules,
                    List<RuleSpec> containment, List<FlowEntry> shadowed) {
        this.tables = Collections.unmodifiableMap(tables);
        this.root = tables.get(ROOT);
        this.tableSpecs = List.copyOf(tableSpecs);
        this.rules = List.copyOf(rules);
        this.containment = List.copyOf(containment);
        this.shadowed = List.copyOf(shadowed);
        for (FlowTable t : tables.values()) {
            for (FlowEntry e : t.entries()) {
                byName.put(nameKey(t.name(), e.name()), e);
            }
        }
    }

    private static String nameKey(String table, String rule) {
        return table + "\u0000" + rule;
    }

    /** A rule set with an empty root table: every frame misses (counted in slots). */
    static RuleSet empty(CounterSlots slots) {
        try {
            return compile(List.of(), List.of(), List.of(), null, NO_PORTS, slots);
        } catch (RuleSetException e) {
            throw new AssertionError(e);
        }
    }

    /**
     * Compiles configured tables and rules.
     *
     * @throws RuleSetException listing every problem: malformed fields, impossible masks, unknown or looping
     *                          sub-tables, duplicate names
     */
    public static RuleSet compile(List<TableSpec> tables, List<RuleSpec> rules) throws RuleSetException {
        return compile(tables, rules, List.of(), null, NO_PORTS, new CounterSlots(CounterRegistry.process(), "rules", Map.of()));
    }

    /** A resolver for a classifier that serves no PF: no port names resolve. */
    static final ToIntFunction<String> NO_PORTS = name -> -1;

    /** The id the data path dispatches on for target, or -1 when it names no port of the PF. */
    static int idOf(Target target, ToIntFunction<String> ports) {
        return switch (target) {
            case Target.Port p -> {
                int id = ports.applyAsInt(p.name());
                yield id >= 0 && id < Target.SPECIAL_BASE ? id : -1;
            }
            case Target.Ring r -> r.id();
            case Target.Special s -> s.id();
        };
    }

    /**
     * Compiles, keeping the hit and miss counters of {@code previous} for rules and tables that keep their
     * names, so counters survive an update.
     */
    static RuleSet compile(List<TableSpec> tableSpecs, List<RuleSpec> rules, List<RuleSpec> containment,
                           RuleSet previous, ToIntFunction<String> ports, CounterSlots slots) throws RuleSetException {
        List<String> problems = new ArrayList<>();
        Map<String, Integer> missResults = new LinkedHashMap<>();
        missResults.put(ROOT, Classifier.MISS);
        Set<String> declared = new HashSet<>();
        for (TableSpec t : tableSpecs) {
            if (t.name() == null || t.name().isBlank()) {
                problems.add("table with no name");
                continue;
            }
            if (!declared.add(t.name())) {
                problems.add("table '" + t.name() + "' declared twice");
            }
            String miss = t.miss() == null ? "miss" : t.miss().trim();
            if (miss.equals("miss")) {
                missResults.put(t.name(), Classifier.MISS);
                continue;
            }
            try {
                switch (Action.parse(miss)) {
                    case Action.Continue c -> problems.add("table '" + t.name() + "': a miss cannot go to a sub-table ('" + miss + "')");
                    case Action.Drop d -> missResults.put(t.name(), Classifier.DROP);
                    case Action.Deliver d -> {
                        int id = idOf(d.target(), ports);
                        if (id < 0) {
                            problems.add("table '" + t.name() + "': miss action '" + miss + "' names no port of this PF");
                        }
                        missResults.put(t.name(), id);
                    }
                }
            } catch (IllegalArgumentException e) {
                problems.add("table '" + t.name() + "': miss " + e.getMessage());
            }
        }

        record Parsed(RuleSpec spec, Match match, Action action, int target, int layer, int position, int cookie) {
        }
        Set<String> ruleTables = new HashSet<>();
        for (RuleSpec r : rules) {
            ruleTables.add(r.table());
        }
        List<Parsed> parsed = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        int position = 0;
        for (int layer = 0; layer < 2; layer++) {
            List<RuleSpec> list = layer == 0 ? containment : rules;
            for (int i = 0; i < list.size(); i++) {
                RuleSpec r = list.get(i);
                if (layer == 0 && !ROOT.equals(r.table())) {
                    r = new RuleSpec(r.name(), ROOT, r.order(), r.match(), r.action());
                }
                String where = "rule '" + r.name() + "' (table '" + r.table() + "')";
                if (r.name() == null || r.name().isBlank()) {
                    problems.add("rule #" + (i + 1) + (layer == 0 ? " of the containment rules" : "") + " has no name");
                    continue;
                }
                if (r.table() == null || r.table().isBlank()) {
                    problems.add("rule '" + r.name() + "' has no table (use '" + ROOT + "' for the first one)");
                    continue;
                }
                if (!seen.add(nameKey(r.table(), r.name()))) {
                    problems.add(where + ": another rule in the table has this name");
                }
                Match match;
                Action action;
                try {
                    match = Match.parse(r.match());
                    action = Action.parse(r.action());
                } catch (IllegalArgumentException e) {
                    problems.add(where + ": " + e.getMessage());
                    continue;
                }
                int target = Classifier.MISS;
                switch (action) {
                    case Action.Continue c -> {
                        if (!missResults.containsKey(c.table()) && !ruleTables.contains(c.table())) {
                            problems.add(where + ": action '" + r.action() + "' names no table");
                            continue;
                        }
                    }
                    case Action.Drop d -> target = Classifier.DROP;
                    case Action.Deliver d -> {
                        target = idOf(d.target(), ports);
                        if (target < 0) {
                            problems.add(where + ": action '" + r.action() + "' names no port of this PF");
                            continue;
                        }
                    }
                }
                missResults.putIfAbsent(r.table(), Classifier.MISS);
                parsed.add(new Parsed(r, match, action, target, layer, position++, layer == 0 ? i : -1));
            }
        }

        // Sub-table loops: a frame must leave every walk after at most one visit per table.
        Map<String, Set<String>> edges = new HashMap<>();
        for (Parsed p : parsed) {
            if (p.action() instanceof Action.Continue c) {
                edges.computeIfAbsent(p.spec().table(), k -> new HashSet<>()).add(c.table());
            }
        }
        findLoop(edges, problems);
        if (!problems.isEmpty()) {
            throw new RuleSetException(problems);
        }

        Map<String, List<Parsed>> byTable = new LinkedHashMap<>();
        for (String t : missResults.keySet()) {
            byTable.put(t, new ArrayList<>());
        }
        for (Parsed p : parsed) {
            byTable.get(p.spec().table()).add(p);
        }
        Map<String, FlowTable> tables = new LinkedHashMap<>();
        Map<FlowEntry, String> links = new HashMap<>();
        List<FlowEntry> shadowed = new ArrayList<>();
        for (Map.Entry<String, List<Parsed>> t : byTable.entrySet()) {
            List<Parsed> ps = t.getValue();
            ps.sort(Comparator.comparingInt(Parsed::layer).thenComparingInt(p -> p.spec().order())
                    .thenComparingInt(Parsed::position));
            List<FlowEntry> entries = new ArrayList<>(ps.size());
            Map<MaskKey, List<FlowEntry>> byMask = new LinkedHashMap<>();
            for (int rank = 0; rank < ps.size(); rank++) {
                Parsed p = ps.get(rank);
                Counter hits = previous == null ? null : previous.counterOf(t.getKey(), p.spec().name());
                FlowEntry e = new FlowEntry(p.spec(), p.match(), p.action(), p.target(), rank, p.cookie(),
                        hits != null ? hits : slots.take());
                entries.add(e);
                byMask.computeIfAbsent(new MaskKey(p.match().maskCopy()), k -> new ArrayList<>()).add(e);
                if (p.action() instanceof Action.Continue c) {
                    links.put(e, c.table());
                }
            }
            TupleTable[] tuples = new TupleTable[byMask.size()];
            int k = 0;
            for (Map.Entry<MaskKey, List<FlowEntry>> m : byMask.entrySet()) {
                tuples[k++] = new TupleTable(m.getKey().mask(), m.getValue(), shadowed);
            }
            Arrays.sort(tuples, Comparator.comparingInt(tt -> tt.bestRank));
            FlowTable previousTable = previous == null ? null : previous.tables.get(t.getKey());
            Counter misses = previousTable != null ? previousTable.misses : slots.take();
            tables.put(t.getKey(), new FlowTable(t.getKey(), entries, tuples, missResults.get(t.getKey()), misses));
        }
        for (Map.Entry<FlowEntry, String> link : links.entrySet()) {
            link.getKey().next = tables.get(link.getValue());
        }
        return new RuleSet(tables, tableSpecs, rules, containment, shadowed);
    }

    private static void findLoop(Map<String, Set<String>> edges, List<String> problems) {
        // Iterative DFS with colours; reports the first loop found, spelled out.
        Map<String, Integer> colour = new HashMap<>();
        for (String start : edges.keySet()) {
            if (colour.containsKey(start)) {
                continue;
            }
            Deque<String> path = new ArrayDeque<>();
            Deque<java.util.Iterator<String>> its = new ArrayDeque<>();
            colour.put(start, 1);
            path.addLast(start);
            its.addLast(edges.getOrDefault(start, Set.of()).iterator());
            while (!its.isEmpty()) {
                java.util.Iterator<String> it = its.peekLast();
                if (!it.hasNext()) {
                    colour.put(path.removeLast(), 2);
                    its.removeLast();
                    continue;
                }
                String next = it.next();
                Integer c = colour.get(next);
                if (c == null) {
                    colour.put(next, 1);
                    path.addLast(next);
                    its.addLast(edges.getOrDefault(next, Set.of()).iterator());
                } else if (c == 1) {
                    List<String> cycle = new ArrayList<>(path);
                    cycle = cycle.subList(cycle.indexOf(next), cycle.size());
                    problems.add("sub-tables loop: " + String.join(" -> ", cycle) + " -> " + next);
                    return;
                }
            }
        }
    }

    /**
     * Gives back the counters of rules and tables that next no longer has (their slots rest before reuse, so a frame
     * the data path finishes with this set cannot count for another owner).
     */
    void releaseCountersNotIn(RuleSet next) {
        java.util.Set<Counter> kept = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
        for (FlowTable t : next.tables.values()) {
            kept.add(t.misses);
            for (FlowEntry e : t.entries()) {
                kept.add(e.hits);
            }
        }
        for (FlowTable t : tables.values()) {
            if (!kept.contains(t.misses)) {
                t.misses.release();
            }
            for (FlowEntry e : t.entries()) {
                if (!kept.contains(e.hits)) {
                    e.hits.release();
                }
            }
        }
    }

    private Counter counterOf(String table, String rule) {
        FlowEntry e = byName.get(nameKey(table, rule));
        return e == null ? null : e.hits;
    }

    /** Classifies the frame whose key this is; leaves the matched containment cookie in the key. */
    int classify(FlowKey key) {
        return classify(key, null);
    }

    /**
     * Classifies, answering from {@code cache} (when not null) if it holds this key for this rule set, and
     * recording the walk into it otherwise.
     */
    int classify(FlowKey key, FlowCache cache) {
        long[] w = key.words;
        boolean caching = cache != null;
        int slot = 0;
        if (caching) {
            slot = cache.slotOf(w);
            if (cache.replay(slot, this, key)) {
                return cache.result(slot);
            }
            cache.begin(slot, w);
        }
        FlowTable t = root;
        int cookie = -1;
        while (true) {
            FlowEntry e = t.lookup(w);
            if (e == null) {
                t.misses.increment();
                key.cookie = cookie;
                if (caching) {
                    cache.finish(slot, this, t, t.missResult, cookie);
                }
                return t.missResult;
            }
            e.hits.increment();
            if (caching) {
                caching = cache.record(slot, e); // a walk too deep to record is left uncached
            }
            if (e.cookie >= 0) {
                cookie = e.cookie;
            }
            if (e.next == null) {
                key.cookie = cookie;
                if (caching) {
                    cache.finish(slot, this, null, e.target, cookie);
                }
                return e.target;
            }
            t = e.next;
        }
    }

    /** The table of that name, or null. */
    public FlowTable table(String name) {
        return tables.get(name);
    }

    public Collection<FlowTable> tables() {
        return tables.values();
    }

    /** The entry of that name in that table, or null. */
    public FlowEntry entry(String table, String rule) {
        return byName.get(nameKey(table, rule));
    }

    public List<TableSpec> tableSpecs() {
        return tableSpecs;
    }

    /** The configured rules this set was compiled from. */
    public List<RuleSpec> rules() {
        return rules;
    }

    /** The containment rules this set was compiled from. */
    public List<RuleSpec> containment() {
        return containment;
    }

    /** Entries that can never match first, because an earlier entry with the same mask has the same value. */
    public List<FlowEntry> shadowed() {
        return shadowed;
    }

    /** A mask as a hash-map key. */
    private record MaskKey(long[] mask) {
        @Override
        public boolean equals(Object o) {
            return o instanceof MaskKey(long[] other) && Arrays.equals(mask, other);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(mask);
        }

        @Override
        public String toString() {
            return Arrays.toString(mask);
        }
    }
}

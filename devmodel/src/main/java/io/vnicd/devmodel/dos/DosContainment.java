package io.vnicd.devmodel.dos;

import io.vnicd.devmodel.classify.Classifier;
import io.vnicd.devmodel.classify.FlowCache;
import io.vnicd.devmodel.classify.FlowKey;
import io.vnicd.devmodel.classify.RuleSet;
import io.vnicd.devmodel.classify.RuleSetException;
import io.vnicd.devmodel.classify.RuleSpec;
import io.vnicd.devmodel.classify.Target;
import io.vnicd.devmodel.counter.Counter;
import io.vnicd.devmodel.counter.CounterRegistry;
import io.vnicd.devmodel.counter.CounterSlots;
import io.vnicd.devmodel.packet.PacketHeaders;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.LongSupplier;

/**
 * Contains denial-of-service attacks (US7966401): each reported attack becomes a containment rule at the
 * head of the classifier's root table that sends its frames to a standby target, and the frames that reach
 * the standby target through those rules draw on a small budget of their own (a token bucket, shared or per
 * attack). Over budget they are dropped and counted. Everything else is classified as before: the attack
 * can no longer fill the rings the normal traffic uses.
 *
 * <p>The data path calls {@link #steer} instead of {@link Classifier#classify}. Threads as for the
 * classifier: one data-path thread steers; {@link #contain} may be called from any thread.
 */
public final class DosContainment {
    /** Containment rules are named after their attack with this prefix. */
    public static final String RULE_PREFIX = "dos:";

    private final Classifier classifier;
    private final long intervalNanos;
    private final LongSupplier clock;
    private final TokenBucket sharedBudget;
    private final CounterSlots slots;
    private final Counter matched;
    private final Counter admitted;
    private final Counter dropped;
    private volatile Contained contained = new Contained(List.of(), new TokenBucket[0], new Counter[0], new Counter[0]);

    /** The attacks in force and, by cookie (index), their own budgets (null: shared) and counters. */
    private record Contained(List<AttackDescriptor> attacks, TokenBucket[] budgets, Counter[] admitted,
                             Counter[] dropped) {
    }

    /**
     * @param classifier        the classifier to program; caught frames go to {@link Target.Special#STANDBY}
     * @param framesPerInterval the standby budget shared by attacks without their own: frames per interval
     * @param intervalNanos     the budget's interval
     * @param clock             nanosecond time; {@code System::nanoTime} in the daemon, a counter in tests
     */
    public DosContainment(Classifier classifier, long framesPerInterval, long intervalNanos, LongSupplier clock) {
        this(classifier, framesPerInterval, intervalNanos, clock, new CounterSlots(CounterRegistry.process(), "dos", java.util.Map.of()));
    }

    /** @param slots where the containment's counters live */
    public DosContainment(Classifier classifier, long framesPerInterval, long intervalNanos, LongSupplier clock,
                          CounterSlots slots) {
        this.classifier = classifier;
        this.slots = slots;
        this.matched = slots.take();
        this.admitted = slots.take();
        this.dropped = slots.take();
        this.intervalNanos = intervalNanos;
        this.clock = clock;
        this.sharedBudget = new TokenBucket(framesPerInterval, intervalNanos, framesPerInterval, clock.getAsLong());
    }

    /**
     * Replaces the contained attacks (an empty list releases them all). Counters of attacks that stay keep
     * counting.
     *
     * @throws RuleSetException naming the attack, if a descriptor is bad; the attacks in force stay
     */
    public synchronized void contain(List<AttackDescriptor> attacks) throws RuleSetException {
        List<String> problems = new ArrayList<>();
        List<RuleSpec> rules = new ArrayList<>(attacks.size());
        Set<String> names = new HashSet<>();
        for (int i = 0; i < attacks.size(); i++) {
            AttackDescriptor a = attacks.get(i);
            if (a.name() == null || a.name().isBlank()) {
                problems.add("attack #" + (i + 1) + " has no name");
                continue;
            }
            if (!names.add(a.name())) {
                problems.add("attack '" + a.name() + "' is listed twice");
            }
            if (a.matchFields().isEmpty()) {
                problems.add("attack '" + a.name() + "' names no address, protocol or port: it would contain all traffic");
            }
            if (a.framesPerInterval() < 0) {
                problems.add("attack '" + a.name() + "': negative budget " + a.framesPerInterval());
            }
            rules.add(new RuleSpec(RULE_PREFIX + a.name(), RuleSet.ROOT, i, a.matchFields(), Target.Special.STANDBY.word()));
        }
        if (!problems.isEmpty()) {
            throw new RuleSetException(problems);
        }
        Contained old = contained;
        Map<String, Integer> oldIndex = new HashMap<>();
        for (int i = 0; i < old.attacks().size(); i++) {
            oldIndex.put(old.attacks().get(i).name(), i);
        }
        int n = attacks.size();
        TokenBucket[] budgets = new TokenBucket[n];
        Counter[] admittedBy = new Counter[n];
        Counter[] droppedBy = new Counter[n];
        long now = clock.getAsLong();
        for (int i = 0; i < n; i++) {
            AttackDescriptor a = attacks.get(i);
            Integer was = oldIndex.get(a.name());
            admittedBy[i] = was != null ? old.admitted()[was] : slots.take();
            droppedBy[i] = was != null ? old.dropped()[was] : slots.take();
            if (a.framesPerInterval() > 0) {
                budgets[i] = new TokenBucket(a.framesPerInterval(), intervalNanos, a.framesPerInterval(), now);
            }
        }
        // Rules first, then budgets. In the moment between, a caught frame is charged by index to the old
        // arrays: a cookie past their end falls back to the shared budget (small: the safe side), one inside
        // may be charged to the attack that held that index before. Counts stay whole either way.
        classifier.installContainment(rules);
        contained = new Contained(List.copyOf(attacks), budgets, admittedBy, droppedBy);
        Set<String> kept = new HashSet<>();
        for (AttackDescriptor a : attacks) {
            kept.add(a.name());
        }
        for (int i = 0; i < old.attacks().size(); i++) {
            if (!kept.contains(old.attacks().get(i).name())) {
                old.admitted()[i].release();
                old.dropped()[i].release();
            }
        }
    }

    /** Releases every attack. */
    public void releaseAll() {
        try {
            contain(List.of());
        } catch (RuleSetException e) {
            throw new AssertionError("an empty containment cannot fail", e);
        }
    }

    /**
     * Classifies a frame; a frame caught by a containment rule goes to the standby target while its budget
     * lasts and is dropped over it. Allocates nothing.
     *
     * @return the target id, {@link Classifier#DROP} or {@link Classifier#MISS}
     */
    public int steer(PacketHeaders headers, FlowKey key) {
        return budget(classifier.classify(headers, key), key);
    }

    /** As {@link #steer(PacketHeaders, FlowKey)}, through the thread's exact-match cache. */
    public int steer(PacketHeaders headers, FlowKey key, FlowCache cache) {
        return budget(classifier.classify(headers, key, cache), key);
    }

    private int budget(int target, FlowKey key) {
        int cookie = key.cookie();
        if (cookie < 0) {
            return target;
        }
        matched.increment();
        Contained c = contained;
        boolean own = cookie < c.budgets().length;
        TokenBucket budget = own && c.budgets()[cookie] != null ? c.budgets()[cookie] : sharedBudget;
        if (budget.tryTake(clock.getAsLong())) {
            admitted.increment();
            if (own) {
                c.admitted()[cookie].increment();
            }
            return target;
        }
        dropped.increment();
        if (own) {
            c.dropped()[cookie].increment();
        }
        return Classifier.DROP;
    }

    /** The target id caught frames are given while their budget lasts. */
    public int standbyTarget() {
        return Target.Special.STANDBY.id();
    }

    /** The attacks in force. */
    public List<AttackDescriptor> attacks() {
        return contained.attacks();
    }

    /** Frames caught by containment rules. */
    public long matched() {
        return matched.get();
    }

    /** Caught frames sent on to the standby target within budget. */
    public long admitted() {
        return admitted.get();
    }

    /** Caught frames dropped over budget. */
    public long dropped() {
        return dropped.get();
    }

    /** Caught frames of one attack admitted, or -1 when it is not contained. */
    public long admitted(String attack) {
        int i = indexOf(attack);
        return i < 0 ? -1 : contained.admitted()[i].get();
    }

    /** Caught frames of one attack dropped over budget, or -1 when it is not contained. */
    public long dropped(String attack) {
        int i = indexOf(attack);
        return i < 0 ? -1 : contained.dropped()[i].get();
    }

    /** Caught frames of one attack (the hits of its rule), or -1 when it is not contained. */
    public long matched(String attack) {
        return classifier.hits(RuleSet.ROOT, RULE_PREFIX + attack);
    }

    private int indexOf(String attack) {
        List<AttackDescriptor> as = contained.attacks();
        for (int i = 0; i < as.size(); i++) {
            if (as.get(i).name().equals(attack)) {
                return i;
            }
        }
        return -1;
    }
}

package io.vnicd.devmodel.counter;

import java.util.HashMap;
import java.util.Map;

/**
 * Hands out single counters from blocks of {@link #CHUNK} slots in a registry, so that a hundred thousand rules
 * cost a few hundred registrations, not one each. A block goes back to the registry once every counter taken
 * from it was released and it is no longer the one being filled.
 */
public final class CounterSlots {
    static final int CHUNK = 256;
    private static final CounterType[] TYPES = new CounterType[CHUNK];

    /** Every slot of a chunk counts frames of its own owner. */
    private enum Slot implements CounterType {
        FRAMES;

        @Override
        public String description() {
            return "Frames counted by the slot's owner";
        }
    }

    static {
        java.util.Arrays.fill(TYPES, Slot.FRAMES);
    }

    private final CounterRegistry registry;
    private final String scope;
    private final Map<String, String> labels;
    private final Map<CounterBlock, Integer> taken = new HashMap<>();
    private CounterBlock filling;
    private int next = CHUNK;

    public CounterSlots(CounterRegistry registry, String scope, Map<String, String> labels) {
        this.registry = registry;
        this.scope = scope;
        this.labels = Map.copyOf(labels);
    }

    /** A zeroed counter of its own. */
    public synchronized Counter take() {
        if (next == CHUNK) {
            if (filling != null && taken.getOrDefault(filling, 0) == 0) {
                filling.close();
                taken.remove(filling);
            }
            filling = registry.register(scope, labels, TYPES);
            next = 0;
        }
        taken.merge(filling, 1, Integer::sum);
        return new Counter(filling, next++, this);
    }

    synchronized void release(Counter c) {
        CounterBlock b = c.block();
        Integer n = taken.get(b);
        if (n == null) {
            return;
        }
        if (n > 1) {
            taken.put(b, n - 1);
            return;
        }
        taken.remove(b);
        if (b != filling) {
            b.close();
        }
    }

    /** Blocks this holds in the registry (tests). */
    synchronized int blocks() {
        return taken.size() + (filling != null && !taken.containsKey(filling) ? 1 : 0);
    }
}

package io.vnicd.devmodel.counter;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.util.Map;

/**
 * The counters of one owner (a switch port, a queue pair, a rule, a NIC), contiguous 8-byte slots in the
 * registry's off-heap memory. The owner's thread adds with plain loads and opaque stores (no lock prefix, no
 * fence on the data path); any thread reads with opaque loads and never sees a torn value. Two threads adding
 * to one counter would lose counts: a block has one writer.
 */
public final class CounterBlock {
    private static final VarHandle LONG = ValueLayout.JAVA_LONG.varHandle();

    private final CounterRegistry registry;
    private final String scope;
    private final Map<String, String> labels;
    private final CounterType[] types;
    private final MemorySegment values;
    final int page;
    final int firstSlot;
    private volatile boolean closed;

    CounterBlock(CounterRegistry registry, String scope, Map<String, String> labels, CounterType[] types,
                 MemorySegment values, int page, int firstSlot) {
        this.registry = registry;
        this.scope = scope;
        this.labels = Map.copyOf(labels);
        this.types = types.clone();
        this.values = values;
        this.page = page;
        this.firstSlot = firstSlot;
    }

    /** Adds delta to the counter in slot index; owner thread only. */
    public void add(int index, long delta) {
        long at = (long) index << 3;
        LONG.setOpaque(values, at, values.get(ValueLayout.JAVA_LONG, at) + delta);
    }

    /** Adds one to the counter in slot index; owner thread only. */
    public void increment(int index) {
        add(index, 1);
    }

    public void add(CounterType type, long delta) {
        add(type.ordinal(), delta);
    }

    public void increment(CounterType type) {
        add(type.ordinal(), 1);
    }

    /** The counter in slot index, from any thread. */
    public long get(int index) {
        return (long) LONG.getOpaque(values, (long) index << 3);
    }

    public long get(CounterType type) {
        return get(type.ordinal());
    }

    /** Sets a counter (a gauge-like value kept by its owner, or a total carried over); owner thread only. */
    public void set(int index, long value) {
        LONG.setOpaque(values, (long) index << 3, value);
    }

    /** What the block belongs to: {@code port}, {@code queue}, {@code rule}, {@code pf}, {@code nic}, ... */
    public String scope() {
        return scope;
    }

    /** Which one: e.g. {@code pf=pf0, port=vf1}. */
    public Map<String, String> labels() {
        return labels;
    }

    public String label(String key) {
        return labels.get(key);
    }

    public CounterType[] types() {
        return types.clone();
    }

    public int size() {
        return types.length;
    }

    /** Returns the slots to the registry; the owner must no longer write them. Idempotent. */
    public void close() {
        if (!closed) {
            closed = true;
            registry.free(this);
        }
    }

    public boolean isClosed() {
        return closed;
    }

    @Override
    public String toString() {
        StringBuilder b = new StringBuilder(scope).append(labels);
        for (CounterType t : types) {
            b.append(' ').append(t.reportName()).append('=').append(get(t.ordinal()));
        }
        return b.toString();
    }
}

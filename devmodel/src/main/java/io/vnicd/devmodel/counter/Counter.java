package io.vnicd.devmodel.counter;

/**
 * One counter on its own (a rule's hits, a table's misses, an attack's drops): a slot of a block shared with
 * others of its kind, handed out by {@link CounterSlots}. Same threading as {@link CounterBlock}: one writer,
 * any reader.
 */
public final class Counter {
    private final CounterBlock block;
    private final int index;
    private final CounterSlots owner;

    Counter(CounterBlock block, int index, CounterSlots owner) {
        this.block = block;
        this.index = index;
        this.owner = owner;
    }

    /** Adds one; owner thread only. */
    public void increment() {
        block.add(index, 1);
    }

    public void add(long delta) {
        block.add(index, delta);
    }

    /** The current count, from any thread. */
    public long get() {
        return block.get(index);
    }

    /** Gives the slot back (its owner is gone); no writes after this. */
    public void release() {
        if (owner != null) {
            owner.release(this);
        }
    }

    CounterBlock block() {
        return block;
    }

    @Override
    public String toString() {
        return Long.toString(get());
    }
}

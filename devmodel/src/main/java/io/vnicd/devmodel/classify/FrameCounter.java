package io.vnicd.devmodel.classify;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * A count of frames, written by the one data-path thread that owns it and readable from any thread while
 * it runs. The writer uses an opaque store instead of an atomic add: no lock prefix on the hot path, and a
 * reader never sees a torn value. Two threads incrementing one counter would lose counts: don't.
 */
public final class FrameCounter {
    private static final VarHandle VALUE;

    static {
        try {
            VALUE = MethodHandles.lookup().findVarHandle(FrameCounter.class, "value", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private long value;

    /** Adds one; owner thread only. */
    public void increment() {
        VALUE.setOpaque(this, value + 1);
    }

    /** The current count, from any thread. */
    public long get() {
        return (long) VALUE.getOpaque(this);
    }

    @Override
    public String toString() {
        return Long.toString(get());
    }
}

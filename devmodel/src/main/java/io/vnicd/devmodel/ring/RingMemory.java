package io.vnicd.devmodel.ring;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;

/**
 * Var handles for ordered and atomic access to longs and ints in (shared) memory segments, so every ring,
 * pool and monitor uses the same access modes. Coordinates: (MemorySegment, long offset).
 */
public final class RingMemory {
    public static final VarHandle LONG = ValueLayout.JAVA_LONG.varHandle();
    public static final VarHandle INT = ValueLayout.JAVA_INT.varHandle();

    private RingMemory() {
    }

    /** Memory for a ring used inside this process only; freed by the garbage collector with the ring. */
    static MemorySegment privateMemory(long bytes) {
        return Arena.ofAuto().allocate(bytes, 128);
    }
}

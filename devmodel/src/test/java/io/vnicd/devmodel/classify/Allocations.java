package io.vnicd.devmodel.classify;

import java.lang.management.ManagementFactory;

/** Bytes the current thread has allocated so far, from the JDK's per-thread allocation counter. */
public final class Allocations {
    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    private Allocations() {
    }

    public static long allocatedByThisThread() {
        return THREADS.getCurrentThreadAllocatedBytes();
    }

    /** Bytes a loop may allocate and still count as allocation-free: the measuring itself allocates a little. */
    public static final long TOLERANCE = 16 * 1024;
}

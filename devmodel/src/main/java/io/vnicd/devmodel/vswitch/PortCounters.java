package io.vnicd.devmodel.vswitch;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * Counters of one switch port. The data-path thread writes them with plain stores; any thread reads them
 * (opaque reads: a value may be a little old, never torn).
 */
public final class PortCounters {
    private static final VarHandle VALUES = MethodHandles.arrayElementVarHandle(long[].class);

    /** What is counted, as seen from the switch. */
    public enum Counter {
        IN_FRAMES("Frames the port sent into the switch"),
        IN_BYTES("Bytes the port sent into the switch"),
        OUT_FRAMES("Frames the switch delivered to the port"),
        OUT_BYTES("Bytes the switch delivered to the port"),
        OUT_DROPS("Frames for the port it could not take (no RX buffers, queue down)"),
        FLOODED("Frames from the port flooded (broadcast, multicast, unknown destination)"),
        FILTERED("Frames from the port dropped because their destination is on the same port"),
        RUNTS("Frames from the port too short for an Ethernet header, dropped");

        private final String description;

        Counter(String description) {
            this.description = description;
        }

        public String description() {
            return description;
        }
    }

    private final long[] values = new long[Counter.values().length];

    void add(Counter c, long delta) {
        values[c.ordinal()] += delta;
    }

    public long get(Counter c) {
        return (long) VALUES.getOpaque(values, c.ordinal());
    }
}

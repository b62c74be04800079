package io.vnicd.devmodel.classify;

/**
 * Where a matching rule sends a frame. The classifier resolves a target once, when it compiles a rule set, to the
 * number the data path dispatches on ({@link #id}); nothing is formatted or parsed per frame.
 */
public sealed interface Target permits Target.Port, Target.Ring, Target.Special {
    /** Ids at and above this are the special targets; ports and rings are numbered below it. */
    int SPECIAL_BASE = 1 << 24;

    /** A port of the PF by name (a VF, the uplink, a proxy): the frame leaves there, whatever its destination MAC. */
    record Port(String name) implements Target {
        @Override
        public String toString() {
            return "port:" + name;
        }
    }

    /** A receive ring by number: the classifier used on its own (tests, benchmarks), targets 0..SPECIAL_BASE-1. */
    record Ring(int id) implements Target {
        public Ring {
            if (id < 0 || id >= SPECIAL_BASE) {
                throw new IllegalArgumentException("ring id must be 0.." + (SPECIAL_BASE - 1) + ", got " + id);
            }
        }

        @Override
        public String toString() {
            return "ring:" + id;
        }
    }

    /** The PF's own targets. */
    enum Special implements Target {
        /** The switch decides by destination MAC. */
        SWITCH("switch"),
        /** A copy to the monitor ring, and the switch decides. */
        MONITOR("monitor"),
        /** To the monitor ring only. */
        MONITOR_ONLY("monitor-only"),
        /** To the standby ring, which is served within its own budget (DoS containment). */
        STANDBY("standby");

        private final String word;

        Special(String word) {
            this.word = word;
        }

        /** The id the data path dispatches on. */
        public int id() {
            return SPECIAL_BASE + ordinal();
        }

        /** The word a rule's action uses. */
        public String word() {
            return word;
        }

        @Override
        public String toString() {
            return word;
        }
    }
}

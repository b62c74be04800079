package io.vnicd.devmodel.counter;

import java.util.Locale;

/**
 * What one counter of a block counts. Each kind of owner (a switch port, a VF queue pair, a PF, a NIC) has an enum
 * of these, in the order of its block's slots, as Agrona's {@code SystemCounterDescriptor}.
 */
public interface CounterType {
    /** The enum constant's name, e.g. {@code IN_FRAMES}. */
    String name();

    /** The slot of this counter in its block. */
    int ordinal();

    /** One line for an operator: what is counted and, for a drop, why. */
    String description();

    /** The name in reports: {@code IN_FRAMES} becomes {@code inFrames}. */
    default String reportName() {
        StringBuilder b = new StringBuilder();
        boolean upper = false;
        for (char ch : name().toLowerCase(Locale.ROOT).toCharArray()) {
            if (ch == '_') {
                upper = true;
            } else {
                b.append(upper ? Character.toUpperCase(ch) : ch);
                upper = false;
            }
        }
        return b.toString();
    }

    /** True for a value that goes up and down (how many there are now), not a count of events. */
    default boolean isGauge() {
        return false;
    }

    /** True for a count of dropped frames: every such counter shows up wherever drops are listed. */
    default boolean isDrop() {
        return false;
    }
}

package io.vnicd.devmodel.classify;

/**
 * What a matching entry does: deliver to a {@link Target}, continue in a sub-table, or drop. The one vocabulary of
 * rule actions, parsed once from configuration text by {@link #parse}:
 * <pre>
 *   vf:NAME | port:NAME          steer to that port of the PF
 *   switch                       the switch decides by destination MAC
 *   monitor | monitor-only       copy to the monitor ring (and switch) | to the monitor ring only
 *   standby                      to the standby ring, served within its budget
 *   drop                         drop, counted by the rule
 *   table:NAME                   continue in a sub-table
 *   ring:N                       deliver to ring N (the classifier on its own)
 * </pre>
 */
public sealed interface Action permits Action.Deliver, Action.Continue, Action.Drop {
    /** Deliver to a target. */
    record Deliver(Target target) implements Action {
        @Override
        public String toString() {
            return target.toString();
        }
    }

    /** Continue the walk in another table of the set. */
    record Continue(String table) implements Action {
        @Override
        public String toString() {
            return "table:" + table;
        }
    }

    /** Drop the frame; counted by the entry or table that decided it. */
    enum Drop implements Action {
        DROP;

        @Override
        public String toString() {
            return "drop";
        }
    }

    Action DROP = Drop.DROP;

    static Action deliver(Target target) {
        return new Deliver(target);
    }

    static Action deliver(int ring) {
        return new Deliver(new Target.Ring(ring));
    }

    static Action subTable(String table) {
        return new Continue(table);
    }

    /**
     * Parses an action of the vocabulary above.
     *
     * @throws IllegalArgumentException saying what is wrong
     */
    static Action parse(String text) {
        if (text == null || text.isBlank()) {
            throw new IllegalArgumentException("missing action (vf:NAME, switch, monitor, monitor-only, standby, drop, table:NAME)");
        }
        String t = text.trim();
        if (t.equals("drop")) {
            return DROP;
        }
        for (Target.Special s : Target.Special.values()) {
            if (s.word().equals(t)) {
                return new Deliver(s);
            }
        }
        int colon = t.indexOf(':');
        String kind = colon < 0 ? t : t.substring(0, colon);
        String arg = colon < 0 ? "" : t.substring(colon + 1).trim();
        switch (kind) {
            case "vf", "port" -> {
                if (!arg.isEmpty()) {
                    return new Deliver(new Target.Port(arg));
                }
            }
            case "table" -> {
                if (!arg.isEmpty()) {
                    return new Continue(arg);
                }
            }
            case "ring" -> {
                try {
                    return new Deliver(new Target.Ring(Integer.parseInt(arg)));
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("action '" + text + "': ring id must be a number 0.."
                            + (Target.SPECIAL_BASE - 1), e);
                }
            }
            default -> {
            }
        }
        throw new IllegalArgumentException("unknown action '" + text
                + "' (vf:NAME, switch, monitor, monitor-only, standby, drop, table:NAME)");
    }
}

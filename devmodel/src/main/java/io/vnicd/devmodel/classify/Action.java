package io.vnicd.devmodel.classify;

/**
 * What a matching entry does: deliver to a target (a ring, given by its id), continue in a sub-table, or drop.
 *
 * @param target the target id for a delivery; {@link Classifier#DROP} for a drop; unused for a sub-table
 * @param table  the sub-table's name, or null
 */
public record Action(int target, String table) {
    public static final Action DROP = new Action(Classifier.DROP, null);

    public static Action deliver(int target) {
        return new Action(target, null);
    }

    public static Action subTable(String table) {
        return new Action(-1, table);
    }

    public boolean isSubTable() {
        return table != null;
    }

    /**
     * Parses {@code "ring:N"}, {@code "table:NAME"} or {@code "drop"}.
     *
     * @throws IllegalArgumentException saying what is wrong
     */
    public static Action parse(String text) {
        if (text == null || text.isBlank()) {
            throw new IllegalArgumentException("missing action (ring:N, table:NAME or drop)");
        }
        String t = text.trim();
        if (t.equals("drop")) {
            return DROP;
        }
        if (t.startsWith("ring:")) {
            String n = t.substring(5);
            try {
                int id = Integer.parseInt(n);
                if (id >= 0) {
                    return deliver(id);
                }
            } catch (NumberFormatException e) {
                // reported below
            }
            throw new IllegalArgumentException("action '" + text + "': ring id must be a number 0.." + Integer.MAX_VALUE);
        }
        if (t.startsWith("table:") && t.length() > 6) {
            return subTable(t.substring(6));
        }
        throw new IllegalArgumentException("unknown action '" + text + "' (ring:N, table:NAME or drop)");
    }

    @Override
    public String toString() {
        return table != null ? "table:" + table : target == Classifier.DROP ? "drop" : "ring:" + target;
    }
}

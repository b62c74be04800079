package io.vnicd.devmodel.classify;

import java.util.List;

/** A rule set that cannot be compiled; lists every problem found, each naming its rule or table. */
public final class RuleSetException extends Exception {
    private static final long serialVersionUID = 1L;

    private final transient List<String> problems;

    public RuleSetException(List<String> problems) {
        super(problems.size() == 1 ? problems.getFirst()
                : problems.size() + " problems in the rule set:\n  " + String.join("\n  ", problems));
        this.problems = List.copyOf(problems);
    }

    public List<String> problems() {
        return problems;
    }
}

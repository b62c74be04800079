package io.vnicd.devmodel.classify;

import java.util.Map;

/**
 * One flow rule as configured (a JSON object maps onto it field for field):
 * {@code {"name":"web","table":"root","order":10,"match":{"dst-ip":"10.0.0.0/24","proto":"tcp","dst-port":"80"},
 * "action":"vf:vf1"}}.
 *
 * @param name   unique within its table; names its hit counter
 * @param table  the table the rule belongs to; {@link RuleSet#ROOT} is where every frame starts
 * @param order  lower goes first; equal orders keep the order of the list
 * @param match  field name to value, see {@link Match}; empty matches everything
 * @param action one of {@link Action}'s vocabulary ({@code vf:NAME}, {@code switch}, {@code monitor},
 *               {@code table:NAME}, {@code drop}, ...), parsed once when the rule set is compiled
 */
public record RuleSpec(String name, String table, int order, Map<String, String> match, String action) {
    public RuleSpec {
        match = match == null ? Map.of() : Map.copyOf(match);
    }
}

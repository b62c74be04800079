package io.vnicd.devmodel.classify;

/**
 * Declares a flow table and what a frame that matches none of its rules gets. Tables that rules name need
 * no declaration; their miss result is {@link Classifier#MISS}.
 *
 * @param name the table
 * @param miss an action of {@link Action}'s vocabulary other than {@code table:NAME}, or {@code "miss"} (the
 *             default: the caller decides)
 */
public record TableSpec(String name, String miss) {
}

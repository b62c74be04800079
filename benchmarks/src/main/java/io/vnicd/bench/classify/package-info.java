/**
 * JMH benchmarks of the flow classifier: lookups per second as the rule count grows from tens to a hundred
 * thousand, with the frame parser in front and without.
 */
package io.vnicd.bench.classify;

/**
 * JMH benchmarks of devmodel's rings: what one offer and one poll cost, alone and across two threads.
 * Run: java -jar benchmarks/target/benchmarks.jar 'io.vnicd.bench.ring'
 */
package io.vnicd.bench.ring;

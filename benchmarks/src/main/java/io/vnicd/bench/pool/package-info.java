/**
 * JMH benchmarks of devmodel's buffer pool: what a quota-checked acquire and a release cost.
 * Run: java -jar benchmarks/target/benchmarks.jar 'io.vnicd.bench.pool'
 */
package io.vnicd.bench.pool;

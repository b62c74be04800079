/**
 * JMH benchmarks of the monitor ring: what copying a frame into it costs the data path, reader included.
 * Run: java -jar benchmarks/target/benchmarks.jar 'io.vnicd.bench.monitor'
 */
package io.vnicd.bench.monitor;

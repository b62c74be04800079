/** JMH benchmarks of the proxy channel against the project's FFM rings. */
package io.vnicd.bench.proxy;

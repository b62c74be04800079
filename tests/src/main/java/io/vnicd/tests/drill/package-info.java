/**
 * Drills an operator runs against vnicd with real peers (scripts/drill): a wire of network namespaces, QEMU guests,
 * pings and a TCP stream across a failure, measured; the integration tests run the same code and assert on it.
 */
package io.vnicd.tests.drill;

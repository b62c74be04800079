/**
 * Real peers the integration tests start and drive: DPDK's testpmd (a vhost-user frontend and a reference
 * vhost back-end), each started by PID and ended by the test that started it.
 */
package io.vnicd.tests.peers;

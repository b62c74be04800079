/** Integration tests that drive vnicd with DPDK's testpmd as a vhost-user frontend. */
package io.vnicd.tests.dpdk;

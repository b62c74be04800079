/**
 * Test support shared by every module's tests: how a test that needs a real peer (QEMU, testpmd, tshark, the
 * Docker engine) reacts when the peer is missing.
 */
package io.vnicd.testkit;

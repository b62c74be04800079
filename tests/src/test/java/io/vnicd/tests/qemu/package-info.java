/**
 * Tests against a real QEMU: the QMP client, the launcher, and the busybox test guests of guests/ talking to each
 * other over QEMU socket netdevs (no vnicd), so the guest side is known good before vnicd serves the NICs.
 */
package io.vnicd.tests.qemu;

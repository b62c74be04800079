/**
 * Starting QEMU guests for vnicd (command line, console markers, clean stop) and talking QMP to them.
 * Tests and drills use it to boot the busybox guests of guests/ on vhost-user sockets served by vnicd.
 */
package io.vnicd.vmm.qemu;

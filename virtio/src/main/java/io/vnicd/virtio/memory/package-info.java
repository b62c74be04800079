/** Guest memory as the frontend shared it: regions mapped from SET_MEM_TABLE's fds, and the translation and
 * bounds checks every guest-supplied address goes through. */
package io.vnicd.virtio.memory;

/**
 * QEMU test guests run in containers (Testcontainers, local image vnicd/guest-runner:1 built by scripts/docker-engine),
 * sharing vhost-user socket folders with the host so vnicd on the host can serve guests that live in containers.
 */
package io.vnicd.tests.containers;

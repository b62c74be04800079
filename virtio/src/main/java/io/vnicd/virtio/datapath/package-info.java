/**
 * The data-path thread: polls its devices' queues while traffic flows and sleeps in epoll on their kick
 * eventfds when idle; other threads change its state only by posting commands to it.
 */
package io.vnicd.virtio.datapath;

/**
 * Peered daemons on one host (US20110090915): the rendezvous on a unix socket, the handshake that hands over a
 * shared-memory channel and eventfds and keeps the daemons' VNIC addresses in step, and the proxy VNIC port that
 * stands in, in one daemon's switch, for the VNICs of the other.
 */
package io.vnicd.sriov.peer;

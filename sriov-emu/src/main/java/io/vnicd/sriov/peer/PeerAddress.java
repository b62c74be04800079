package io.vnicd.sriov.peer;

/**
 * An address of a VNIC one daemon announces to a peer (add) or withdraws (not add): the peer maps it to its proxy
 * port for this daemon.
 */
public record PeerAddress(boolean add, long mac, int vlan) {
}

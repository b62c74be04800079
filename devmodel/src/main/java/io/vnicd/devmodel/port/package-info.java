/**
 * Ports of a PF's switch: one interface for every kind (VF, uplink, proxy VNIC, tunnel, router), as OVS's
 * netdev class and Crossbow's MAC clients: the switch and the classifier hand frames to a port without knowing
 * its kind.
 */
package io.vnicd.devmodel.port;

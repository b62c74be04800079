/**
 * The wire side of a PF: backing NICs (AF_PACKET on any Linux netdev), aggregated into one uplink port
 * (US8315156: a PNIC per connection or per VF), their link state from rtnetlink and the carrier itself, and the
 * remapping of VFs to a healthy PNIC when one fails (US20120005521), announced on the wire.
 */
package io.vnicd.sriov.uplink;

/**
 * Tunnels to other hosts: VXLAN (RFC 7348) segments as one switch port of the PF, each segment (VNI) carrying one
 * of its VLANs, interoperable with the Linux kernel's vxlan device.
 */
package io.vnicd.sriov.tunnel;

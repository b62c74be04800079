/**
 * Reading the headers of an Ethernet frame (VLAN tags, IPv4/IPv6 with extension headers, TCP/UDP ports)
 * into a reusable flyweight, without allocating and without throwing on truncated or malformed frames.
 */
package io.vnicd.devmodel.packet;

/** The embedded virtual switch of a PF (seed US20110090915): a table from hardware address and VLAN to port,
 * learned from traffic and aged, flooding within the VLAN, with per-port counters. */
package io.vnicd.devmodel.vswitch;

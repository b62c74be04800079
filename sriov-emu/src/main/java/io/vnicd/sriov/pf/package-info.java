/**
 * Physical and virtual functions: a PF owns a data-path thread and an embedded switch joining its VFs;
 * each VF is a virtio-net device on a vhost-user socket, one port of that switch.
 */
package io.vnicd.sriov.pf;

/**
 * Where buffers, NICs and sending threads sit (NUMA nodes), and the policies that pick the node whose
 * buffer pool serves a transmit buffer (US20110208873: architecture-aware allocation of network buffers).
 */
package io.vnicd.devmodel.numa;

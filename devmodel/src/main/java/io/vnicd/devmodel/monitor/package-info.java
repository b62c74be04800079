/**
 * Monitoring (US20100284279): frames matching a monitor rule are copied, without blocking the data path,
 * into a ring in shared memory that another process reads and writes out as pcap.
 */
package io.vnicd.devmodel.monitor;

/** Monitoring end to end: rules in the daemon's configuration, capture by vnicctl in another process, pcap read
 * by tshark. */
package io.vnicd.tests.monitor;

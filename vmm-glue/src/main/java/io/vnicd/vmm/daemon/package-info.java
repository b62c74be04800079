/**
 * The vnicd daemon: command line, JSON configuration, lifecycle of its physical and virtual functions,
 * and the control socket through which a running daemon is inspected.
 */
package io.vnicd.vmm.daemon;

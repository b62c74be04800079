package io.vnicd.devmodel.numa;

/** Which node's buffer pool serves a transmit buffer (per PF, configuration key {@code alloc-policy}). */
public enum AllocationPolicy {
    /** The node of the CPU the sending thread runs on: the sender fills the buffer from local memory. */
    LOCAL_TO_SENDER,
    /** The NIC's node: the device (here: the PF's transmit thread) reads the buffer from local memory. */
    LOCAL_TO_NIC,
    /** Round-robin over all nodes: spreads memory bandwidth and capacity when neither side dominates. */
    INTERLEAVE
}

package io.vnicd.devmodel.vswitch;

import java.lang.foreign.MemorySegment;

/** Where the switch sends a frame leaving at a port (a VF's receive queue, a proxy, the uplink). */
@FunctionalInterface
public interface PortSink {
    /**
     * Delivers the frame at [offset, offset + length); it is valid only during the call. Returns false when
     * the port could not take it (no receive buffers, link down): the switch counts the drop.
     */
    boolean deliver(int port, MemorySegment frame, long offset, int length);
}

package io.vnicd.devmodel.port;

import java.lang.foreign.MemorySegment;

/**
 * Where a port hands the frames it received (a VF's TX queue, a NIC's RX ring, a channel from a peer): the PF's
 * ingress, which judges and switches them. Data-path thread only; the frame is valid only during the call.
 */
public interface PortIngress {
    /** The frame went on (switched, or dropped and counted). */
    int SENT = 0;

    /** True for an answer that is a wait ticket: the destination cannot take the frame yet. */
    static boolean isBusy(int answer) {
        return answer > 0;
    }

    /**
     * A frame that entered at port.
     *
     * @param vlan the frame's VLAN where the port is a trunk (its tag; 0 untagged), ignored for an access port
     * @return {@link #SENT}, or a wait ticket (&gt; 0): the destination's quota is full, the sender should keep the
     *         frame as it is and offer it again with {@link #onRetry}
     */
    int onFrame(int port, int vlan, MemorySegment frame, long offset, int length);

    /**
     * A frame that got ticket, offered again after waiting waitedNanos: {@link #SENT} (delivered, or given up and
     * counted) or a ticket to keep waiting on.
     */
    int onRetry(MemorySegment frame, long offset, int length, int ticket, long waitedNanos);
}

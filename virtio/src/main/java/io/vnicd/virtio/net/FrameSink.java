package io.vnicd.virtio.net;

import java.lang.foreign.MemorySegment;

/**
 * Where a device's transmitted frames go (the PF's ingress). Called on the data-path thread; the frame is only
 * valid during the call (the guest's own buffer, or a staging buffer reused for the next frame), so a sink that
 * keeps it must copy it.
 */
@FunctionalInterface
public interface FrameSink {
    /** The frame went on (or was dropped, counted by whoever dropped it). */
    int SENT = 0;

    /** True for an answer that is a wait ticket: the destination cannot take the frame yet. */
    static boolean isBusy(int answer) {
        return answer > 0;
    }

    /**
     * A whole Ethernet frame (no virtio header) at [offset, offset + length) of frame. Returns {@link #SENT}, or
     * a wait ticket (&gt; 0) when its destination cannot take it yet: the frame then stays in the TX queue, its
     * sender waits, and it is offered again with {@link #onRetry}.
     */
    int onFrame(MemorySegment frame, long offset, int length);

    /**
     * A frame that got ticket offered again, as it was then: decided already, it only needs delivering. Returns
     * {@link #SENT} (delivered, or given up after waiting too long: counted) or a ticket to wait on.
     *
     * @param waitedNanos how long the frame has waited so far
     */
    default int onRetry(MemorySegment frame, long offset, int length, int ticket, long waitedNanos) {
        return onFrame(frame, offset, length);
    }
}

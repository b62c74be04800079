package io.vnicd.virtio.net;

import java.lang.foreign.MemorySegment;

/**
 * Where a device's transmitted frames go (the PF's switch). Called on the data-path thread; the frame is only
 * valid during the call (the guest's own buffer, or a staging buffer reused for the next frame), so a sink that
 * keeps it must copy it.
 */
@FunctionalInterface
public interface FrameSink {
    /** A whole Ethernet frame (no virtio header) at [offset, offset + length) of frame. */
    void onFrame(MemorySegment frame, long offset, int length);
}

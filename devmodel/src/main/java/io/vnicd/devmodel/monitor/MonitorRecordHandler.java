package io.vnicd.devmodel.monitor;

import java.lang.foreign.MemorySegment;

/**
 * Receives one captured frame from a monitor ring. The bytes are at memory[dataOffset, dataOffset +
 * capturedLength) and valid only during the call (the slot is reused afterwards).
 */
@FunctionalInterface
public interface MonitorRecordHandler {
    void onRecord(MemorySegment memory, long dataOffset, long timestampNanos, int originalLength, int capturedLength);
}

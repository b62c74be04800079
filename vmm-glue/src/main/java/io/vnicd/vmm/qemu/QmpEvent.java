package io.vnicd.vmm.qemu;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * An asynchronous QMP event, e.g. {@code SHUTDOWN}, {@code DEVICE_DELETED}, {@code NIC_RX_FILTER_CHANGED}.
 *
 * @param name the event name
 * @param data the event's {@code data} member (an empty object when QEMU sent none)
 * @param timestampMicros QEMU's timestamp, seconds and microseconds folded into microseconds since the epoch
 */
public record QmpEvent(String name, JsonNode data, long timestampMicros) {

    /** A text member of data, or null. */
    public String text(String field) {
        JsonNode node = data.get(field);
        return node == null || node.isNull() ? null : node.asText();
    }
}

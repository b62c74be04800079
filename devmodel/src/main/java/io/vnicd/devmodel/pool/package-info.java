/**
 * Packet buffers in shared memory, drawn from per-target quotas (US8392565): a VF or VNIC over its quota
 * waits for its own buffers to come back instead of taking memory the other targets are owed.
 */
package io.vnicd.devmodel.pool;

package io.vnicd.virtio.vhostuser;

import io.vnicd.virtio.memory.DirtyLog;

import io.vnicd.nativeio.EventFd;
import io.vnicd.virtio.memory.GuestMemory;

/**
 * The device behind a vhost-user connection (rust-vmm's VhostUserBackend): the session handles the protocol
 * and calls this. Calls come from the session's control thread; a back-end whose queues are served by another
 * thread hands the change to that thread and returns once it took effect, so that the session may then close
 * what it replaced (an eventfd, a memory table).
 */
public interface VhostUserBackend {
    /** A name for logs, e.g. the VF's. */
    String name();

    /** Virtio device feature bits offered to the frontend (the session adds VHOST_USER_F_PROTOCOL_FEATURES). */
    long features();

    /** Protocol feature bits offered. */
    long protocolFeatures();

    /** The answer to GET_QUEUE_NUM: for a net device, the number of queue pairs. */
    int maxQueuePairs();

    /** How many virtqueues the device has (indices 0 .. count-1 are valid). */
    int queueCount();

    /** SET_FEATURES: the frontend acknowledged these (a subset of {@link #features()}, checked by the session). */
    void setFeatures(long acked) throws VhostUserException;

    /** SET_MEM_TABLE: the back-end owns memory from now on and closes the previous table once no queue uses it. */
    void setMemory(GuestMemory memory) throws VhostUserException;

    /** The ring was configured and received its kick fd: start processing it (when enabled). */
    void startQueue(VringConfig config) throws VhostUserException;

    /** GET_VRING_BASE: stop processing the ring; returns the next available index to resume from. */
    int stopQueue(int index);

    /** SET_VRING_ENABLE, or SET_FEATURES without protocol features (which enables every ring). */
    void enableQueue(int index, boolean enabled);

    /** SET_VRING_CALL on a started ring: signal this fd from now on (null: the frontend polls). */
    void setCall(int index, EventFd call);

    /** The connection ended or the frontend reset the device: stop every queue and release guest memory. */
    void reset();

    /**
     * SET_LOG_BASE: the dirty-page log of a live migration, written from now on while VHOST_F_LOG_ALL is acked (null:
     * none). The back-end closes the log it replaced once no queue uses it.
     */
    default void setLogBase(DirtyLog log) throws VhostUserException {
        throw new VhostUserException("the device keeps no dirty log");
    }

    /** SEND_RARP: after a migration, announce mac on the guest's behalf (VHOST_USER_PROTOCOL_F_RARP). */
    default void sendRarp(long mac) throws VhostUserException {
        throw new VhostUserException("the device sends no announcements");
    }

    /** True when a queue broke on invalid driver input: GET_STATUS then reports DEVICE_NEEDS_RESET. */
    default boolean needsReset() {
        return false;
    }
}

package io.vnicd.virtio.vhostuser;

import io.vnicd.nativeio.EventFd;

/**
 * What the frontend said about one virtqueue, as the back-end receives it when the ring starts.
 * Addresses are in the frontend's virtual address space (SET_VRING_ADDR); the eventfds stay owned by the
 * session, which closes them only after the back-end has let go of them (the back-end's calls are synchronous).
 *
 * @param index     the virtqueue index (net: RX = 2k, TX = 2k+1)
 * @param size      queue size, a power of two
 * @param descAddr  descriptor table, frontend virtual address
 * @param availAddr available ring, frontend virtual address
 * @param usedAddr  used ring, frontend virtual address
 * @param base      the next available index to process (SET_VRING_BASE)
 * @param kick      the frontend kicks this when it adds buffers; null in polling mode
 * @param call      the back-end signals this after using buffers; null when the frontend polls
 * @param err       signalled when the back-end finds the ring broken; may be null
 * @param logGuestAddr where the used ring lies in guest physical memory for the dirty log (SET_VRING_ADDR with
 *                     VHOST_VRING_F_LOG), or -1
 */
public record VringConfig(int index, int size, long descAddr, long availAddr, long usedAddr, int base,
                          EventFd kick, EventFd call, EventFd err, long logGuestAddr) {
    /** A ring without a log address (VHOST_VRING_F_LOG clear). */
    public VringConfig(int index, int size, long descAddr, long availAddr, long usedAddr, int base,
                       EventFd kick, EventFd call, EventFd err) {
        this(index, size, descAddr, availAddr, usedAddr, base, kick, call, err, -1);
    }
}

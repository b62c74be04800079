package io.vnicd.nativeio;

import java.lang.foreign.MemorySegment;

/**
 * A socket bound to one network interface that moves whole Ethernet frames through rings shared with the kernel: what
 * an uplink needs of a backing NIC, whatever the transport ({@link PacketSocket}: AF_PACKET with TPACKET_V3 rings;
 * {@link XdpSocket}: AF_XDP with a UMEM). Frames come and go untagged, their outer VLAN tag apart as a TCI.
 *
 * <h2>Ownership</h2>
 * {@link #receive}, {@link #send}, {@link #flush}, {@link #txPending} and {@link #close} belong to one owner thread.
 * The counters may be read by any thread (each value is one the owner stored, not necessarily the newest);
 * {@link #pollKernelStats} may be called from any thread.
 */
public interface NicSocket extends AutoCloseable {
    /** Marks a vlanTci whose tag is an 802.1ad S-tag (TPID 0x88a8) rather than 802.1Q (0x8100); bit 16. */
    int VLAN_8021AD = 1 << 16;

    @FunctionalInterface
    interface FrameHandler {
        /**
         * The frame at [offset, offset+length) of segment (read-only, valid only during the call), without its outer
         * VLAN tag. vlanTci is that tag's TCI, or -1 when the frame carried none. An 802.1ad S-tag (TPID 0x88a8)
         * arrives as {@code VLAN_8021AD | tci}; {@link #send} takes the same encoding, so a received frame can be
         * sent on unchanged. checksumPartial (AF_PACKET's TP_STATUS_CSUMNOTREADY; never on AF_XDP): a local sender
         * left the TCP/UDP checksum for the device to fill in (the pseudo-header sum is in its place).
         *
         * @return true when the frame was taken; false keeps it, and the next {@link #receive} offers it again first
         *         (its taker was not ready)
         */
        boolean onFrame(MemorySegment segment, long offset, int length, int vlanTci, boolean checksumPartial);
    }

    /** For epoll: readable while received frames wait. */
    int fd();

    int ifindex();

    String ifname();

    /** What carries the frames, for status: "af_packet", "af_xdp (drv, copy)", ... */
    String transport();

    /**
     * Hands up to budget received frames to handler, in order; returns how many. Non-blocking: 0 when none is
     * ready. A frame the handler does not take is offered again first by the next call. A handler that throws loses
     * only its frame. Never allocates.
     */
    int receive(FrameHandler handler, int budget);

    /**
     * Queues a copy of the frame for transmission, inserting an 802.1Q tag (802.1ad with {@link #VLAN_8021AD}) when
     * vlanTci >= 0. Does not kick the kernel ({@link #flush} does). Returns false, counting why, when the ring is full
     * ({@link #txRingFull}), when the frame is too big ({@link #txTooBig}; never truncated), or shorter than an
     * Ethernet header ({@link #txErrors}). Never blocks, never allocates.
     */
    boolean send(MemorySegment segment, long offset, int length, int vlanTci);

    /**
     * Kicks the kernel to transmit what was queued; returns how many frames it took. What it could not take for now
     * stays queued ({@link #txPending}); on a dead link (down, gone) the queued frames are dropped and counted in
     * {@link #txErrors}, {@link #lastTxErrno} telling why. Never allocates.
     */
    int flush();

    /** True while queued frames wait that the kernel has not taken yet (owner thread). */
    boolean txPending();

    /**
     * Reads and clears the socket's pending error (SO_ERROR): 0, or e.g. ENETDOWN after the interface went down or
     * away. A pending error keeps the descriptor reporting EPOLLERR, so it is read before the socket joins an epoll set.
     */
    int takeSocketError() throws NativeException;

    /** Reads the kernel's drop counts into the counters; returns the frames dropped for want of ring space since the last call. */
    long pollKernelStats() throws NativeException;

    long rxFrames();

    long rxBytes();

    /** Frames the kernel dropped because the receive ring (or, AF_XDP, the fill ring) had no room. */
    long rxKernelDrops();

    long txFrames();

    long txBytes();

    long txRingFull();

    long txTooBig();

    long txErrors();

    /** The errno of the last frame counted in {@link #txErrors}, 0 before any. */
    int lastTxErrno();

    /** Releases the rings and closes the socket; idempotent. Frames still queued are dropped. */
    @Override
    void close();
}

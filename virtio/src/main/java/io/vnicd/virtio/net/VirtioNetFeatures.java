package io.vnicd.virtio.net;

/** Feature bit numbers of a virtio-net device (virtio 1.2 sections 5.1.3 and 6). */
public final class VirtioNetFeatures {
    /** 5.1.3: the device has a MAC address in its config space. */
    public static final int MAC = 5;
    /** 5.1.3: the driver can merge receive buffers; num_buffers in the header is meaningful. */
    public static final int MRG_RXBUF = 15;
    /** 5.1.3: configuration status field (link up) is available. */
    public static final int STATUS = 16;
    /**
     * 5.1.3: the driver announces itself (GARPs) when the device asks (after a migration). With vhost-user, QEMU's own
     * control queue carries the announce; a back-end that offers it tells QEMU the guest will announce itself, so QEMU
     * need not ask the back-end for a RARP.
     */
    public static final int GUEST_ANNOUNCE = 21;
    /** 5.1.3: several queue pairs (multiqueue). */
    public static final int MQ = 22;
    /** 6: descriptors may point to indirect tables. */
    public static final int INDIRECT_DESC = 28;
    /** 6: used_event / avail_event suppress notifications. */
    public static final int EVENT_IDX = 29;
    /** vhost: the back-end logs the guest pages it writes while this is acked (a live migration, VHOST_F_LOG_ALL). */
    public static final int LOG_ALL = 26;
    /** 6: virtio 1.0 or later; the net header is always 12 bytes. */
    public static final int VERSION_1 = 32;

    /** The virtio_net_hdr of a VERSION_1 device, with num_buffers (5.1.6). */
    public static final int HEADER_SIZE = 12;
    /** Offset of num_buffers in the header. */
    public static final int HEADER_NUM_BUFFERS = 10;

    private VirtioNetFeatures() {
    }

    public static long bit(int feature) {
        return 1L << feature;
    }
}

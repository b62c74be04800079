package io.vnicd.virtio.net;

/** Feature bit numbers of a virtio-net device (virtio 1.2 sections 5.1.3 and 6). */
public final class VirtioNetFeatures {
    /** 5.1.3: the device has a MAC address in its config space. */
    public static final int MAC = 5;
    /** 5.1.3: the driver can merge receive buffers; num_buffers in the header is meaningful. */
    public static final int MRG_RXBUF = 15;
    /** 5.1.3: configuration status field (link up) is available. */
    public static final int STATUS = 16;
    /** 5.1.3: several queue pairs (multiqueue). */
    public static final int MQ = 22;
    /** 6: descriptors may point to indirect tables. */
    public static final int INDIRECT_DESC = 28;
    /** 6: used_event / avail_event suppress notifications. */
    public static final int EVENT_IDX = 29;
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

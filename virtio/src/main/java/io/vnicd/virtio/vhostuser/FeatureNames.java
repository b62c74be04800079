package io.vnicd.virtio.vhostuser;

import java.util.StringJoiner;

/** Names of feature bits, for logs that say what was negotiated. */
public final class FeatureNames {
    private static final String[] VIRTIO = new String[64];
    private static final String[] PROTOCOL = new String[64];

    static {
        VIRTIO[0] = "CSUM";
        VIRTIO[1] = "GUEST_CSUM";
        VIRTIO[5] = "MAC";
        VIRTIO[15] = "MRG_RXBUF";
        VIRTIO[16] = "STATUS";
        VIRTIO[17] = "CTRL_VQ";
        VIRTIO[21] = "GUEST_ANNOUNCE";
        VIRTIO[22] = "MQ";
        VIRTIO[26] = "LOG_ALL";
        VIRTIO[28] = "INDIRECT_DESC";
        VIRTIO[29] = "EVENT_IDX";
        VIRTIO[30] = "PROTOCOL_FEATURES";
        VIRTIO[32] = "VERSION_1";
        VIRTIO[33] = "ACCESS_PLATFORM";
        VIRTIO[34] = "RING_PACKED";
        PROTOCOL[ProtocolFeatures.MQ] = "MQ";
        PROTOCOL[ProtocolFeatures.LOG_SHMFD] = "LOG_SHMFD";
        PROTOCOL[ProtocolFeatures.RARP] = "RARP";
        PROTOCOL[ProtocolFeatures.REPLY_ACK] = "REPLY_ACK";
        PROTOCOL[ProtocolFeatures.MTU] = "MTU";
        PROTOCOL[ProtocolFeatures.BACKEND_REQ] = "BACKEND_REQ";
        PROTOCOL[ProtocolFeatures.CONFIG] = "CONFIG";
        PROTOCOL[ProtocolFeatures.RESET_DEVICE] = "RESET_DEVICE";
        PROTOCOL[ProtocolFeatures.CONFIGURE_MEM_SLOTS] = "CONFIGURE_MEM_SLOTS";
        PROTOCOL[ProtocolFeatures.STATUS] = "STATUS";
    }

    private FeatureNames() {
    }

    public static String describe(long features) {
        return join(features, VIRTIO);
    }

    public static String describeProtocol(long features) {
        return join(features, PROTOCOL);
    }

    private static String join(long bits, String[] names) {
        StringJoiner j = new StringJoiner(" ");
        for (int b = 0; b < 64; b++) {
            if ((bits & (1L << b)) != 0) {
                j.add(names[b] != null ? names[b] : "bit" + b);
            }
        }
        return j.toString();
    }
}

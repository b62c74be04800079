package io.vnicd.sriov.uplink;

import io.vnicd.nativeio.NativeException;
import io.vnicd.nativeio.NicSocket;
import io.vnicd.nativeio.PacketSocket;
import io.vnicd.nativeio.XdpSocket;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/** How an uplink's frames cross between vnicd and a backing NIC: the socket opened on each interface. */
public enum Transport {
    /** AF_PACKET with TPACKET_V3 rings ({@link PacketSocket}): any interface, any MTU, any number of queues. */
    AF_PACKET("af_packet"),
    /**
     * AF_XDP ({@link XdpSocket}) on receive queue 0, with an XDP program redirecting that queue to it: the kernel's
     * stack no longer sees the interface's frames. Refused (the NIC is not opened, and tried again later) on an
     * interface with more than one receive queue, or whose MTU does not fit a UMEM frame.
     */
    AF_XDP("af_xdp"),
    /** AF_XDP where it opens and suits the interface, else AF_PACKET; the choice and its reason are logged. */
    AUTO("auto");

    private static final System.Logger LOG = System.getLogger(Transport.class.getName());
    private static final int ETH_HLEN = 14;
    private static final int VLAN_HLEN = 4;

    private final String word;

    Transport(String word) {
        this.word = word;
    }

    public String word() {
        return word;
    }

    /** Parses the configuration word (af_packet, af_xdp, auto; '-' for '_' too). */
    public static Transport parse(String text) {
        String t = text.trim().toLowerCase(Locale.ROOT).replace('-', '_');
        for (Transport p : values()) {
            if (p.word.equals(t)) {
                return p;
            }
        }
        throw new IllegalArgumentException("'" + text + "' is not an uplink transport (af_packet, af_xdp, auto)");
    }

    /**
     * Opens this transport's socket on ifname (for AUTO: AF_XDP, or AF_PACKET where AF_XDP does not open or suit the
     * interface). who names the uplink in the log.
     */
    NicSocket open(String ifname, PacketSocket.Options packet, XdpSocket.Options xdp, String who) throws NativeException {
        if (this == AF_PACKET) {
            return PacketSocket.open(ifname, packet);
        }
        String unsuitable = unsuitableForXdp(ifname, xdp);
        if (this == AF_XDP) {
            if (unsuitable != null) {
                throw new NativeException("AF_XDP on " + ifname, unsuitable + ": use uplink transport af_packet or auto");
            }
            return XdpSocket.open(ifname, xdp);
        }
        if (unsuitable == null) {
            try {
                XdpSocket s = XdpSocket.open(ifname, xdp);
                LOG.log(System.Logger.Level.INFO, () -> who + ": " + ifname + " over " + s.transport());
                return s;
            } catch (NativeException e) {
                unsuitable = e.getMessage();
            }
        }
        String why = unsuitable;
        LOG.log(System.Logger.Level.INFO, () -> who + ": " + ifname + " over af_packet (AF_XDP: " + why + ")");
        return PacketSocket.open(ifname, packet);
    }

    /**
     * Why AF_XDP as built here cannot carry all of ifname's traffic, or null: a socket serves queue 0 only, and a
     * frame must fit a UMEM frame (the MTU, an Ethernet header and a VLAN tag).
     */
    static String unsuitableForXdp(String ifname, XdpSocket.Options xdp) {
        int queues = XdpSocket.rxQueues(ifname);
        if (queues > 1) {
            return ifname + " has " + queues + " receive queues and AF_XDP serves queue 0 only (frames the NIC steers to"
                    + " the others would miss the uplink; ethtool -L " + ifname + " combined 1 leaves one)";
        }
        int mtu = mtu(ifname);
        if (mtu + ETH_HLEN + VLAN_HLEN > xdp.maxRxFrame()) {
            return ifname + "'s MTU " + mtu + " exceeds what a UMEM frame of " + xdp.frameSize() + " bytes receives ("
                    + (xdp.maxRxFrame() - ETH_HLEN - VLAN_HLEN) + ")";
        }
        return null;
    }

    private static int mtu(String ifname) {
        try {
            return Integer.parseInt(Files.readString(Path.of("/sys/class/net", ifname, "mtu")).strip());
        } catch (IOException | RuntimeException e) {
            return 0; // gone meanwhile: opening says so
        }
    }

    @Override
    public String toString() {
        return word;
    }
}

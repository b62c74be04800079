package io.vnicd.devmodel.monitor;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/** Known Ethernet frames for capture tests: an ARP request and a UDP/IPv4 datagram with a known payload. */
final class TestFrames {
    static final String SRC_MAC = "02:00:00:00:00:01";
    static final String DST_MAC = "02:00:00:00:00:02";
    static final String SRC_IP = "10.0.0.1";
    static final String DST_IP = "10.0.0.2";
    static final int UDP_PORT = 40000;
    static final String PAYLOAD = "vnicd-monitor";

    private TestFrames() {
    }

    /** ARP who-has 10.0.0.2 tell 10.0.0.1, broadcast, padded to 60 bytes. */
    static byte[] arpRequest() {
        ByteBuffer b = ByteBuffer.allocate(60);
        b.put(mac("ff:ff:ff:ff:ff:ff")).put(mac(SRC_MAC)).putShort((short) 0x0806);
        b.putShort((short) 1).putShort((short) 0x0800).put((byte) 6).put((byte) 4).putShort((short) 1);
        b.put(mac(SRC_MAC)).put(ip(SRC_IP)).put(new byte[6]).put(ip(DST_IP));
        return b.array();
    }

    /** UDP 10.0.0.1:40000 -> 10.0.0.2:40000 carrying {@link #PAYLOAD}; a frame of totalLength bytes (at least 55). */
    static byte[] udp(int totalLength) {
        byte[] payload = PAYLOAD.getBytes(StandardCharsets.US_ASCII);
        // Short frames get Ethernet padding after the datagram; long ones a longer payload (zeros after the text).
        int ipLength = Math.max(20 + 8 + payload.length, totalLength > 64 ? totalLength - 14 : 0);
        ByteBuffer b = ByteBuffer.allocate(Math.max(14 + ipLength, totalLength));
        b.put(mac(DST_MAC)).put(mac(SRC_MAC)).putShort((short) 0x0800);
        int ipStart = b.position();
        b.put((byte) 0x45).put((byte) 0).putShort((short) ipLength).putShort((short) 1).putShort((short) 0x4000)
                .put((byte) 64).put((byte) 17).putShort((short) 0).put(ip(SRC_IP)).put(ip(DST_IP));
        int sum = 0;
        for (int i = ipStart; i < ipStart + 20; i += 2) {
            sum += b.getShort(i) & 0xffff;
        }
        sum = (sum & 0xffff) + (sum >>> 16);
        sum = (sum & 0xffff) + (sum >>> 16);
        b.putShort(ipStart + 10, (short) ~sum);
        b.putShort((short) UDP_PORT).putShort((short) UDP_PORT).putShort((short) (ipLength - 20)).putShort((short) 0);
        b.put(payload);
        return b.array();
    }

    static byte[] mac(String text) {
        String[] parts = text.split(":");
        byte[] mac = new byte[6];
        for (int i = 0; i < 6; i++) {
            mac[i] = (byte) Integer.parseInt(parts[i], 16);
        }
        return mac;
    }

    static byte[] ip(String text) {
        String[] parts = text.split("\\.");
        byte[] ip = new byte[4];
        for (int i = 0; i < 4; i++) {
            ip[i] = (byte) Integer.parseInt(parts[i]);
        }
        return ip;
    }
}

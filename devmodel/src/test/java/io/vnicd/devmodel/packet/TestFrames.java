package io.vnicd.devmodel.packet;

import java.io.ByteArrayOutputStream;
import java.lang.foreign.MemorySegment;

/**
 * Builds frames byte by byte for tests, independently of the parser: each header is written field by field
 * as its RFC draws it. Headers only, no payload, so a frame cut anywhere is a truncated header.
 */
public final class TestFrames {
    private TestFrames() {
    }

    public static final int TPID_Q = 0x8100;
    public static final int TPID_AD = 0x88A8;

    /** Ethernet header; {@code tags} holds TPID, TCI pairs. */
    public static byte[] ethernet(long dst, long src, int[] tags, int etherType, byte[] payload) {
        Out o = new Out();
        o.u48(dst).u48(src);
        for (int i = 0; i < tags.length; i += 2) {
            o.u16(tags[i]).u16(tags[i + 1]);
        }
        o.u16(etherType).bytes(payload);
        return o.toByteArray();
    }

    /** IPv4 header with options (a multiple of 4 bytes) followed by {@code l4}; total length covers both. */
    public static byte[] ipv4(int src, int dst, int protocol, byte[] options, int flagsFragment, byte[] l4) {
        int ihl = 20 + options.length;
        Out o = new Out();
        o.u8(0x40 | ihl / 4).u8(0).u16(ihl + l4.length).u16(0x1234).u16(flagsFragment).u8(64).u8(protocol).u16(0)
                .u32(src).u32(dst).bytes(options).bytes(l4);
        return o.toByteArray();
    }

    public static byte[] ipv6(long srcHigh, long srcLow, long dstHigh, long dstLow, int nextHeader, byte[] rest) {
        Out o = new Out();
        o.u32(0x6000_0000).u16(rest.length).u8(nextHeader).u8(64)
                .u64(srcHigh).u64(srcLow).u64(dstHigh).u64(dstLow).bytes(rest);
        return o.toByteArray();
    }

    /** A hop-by-hop, routing or destination options header of {@code units} * 8 bytes, padded with zeros. */
    public static byte[] extension(int next, int units) {
        byte[] b = new byte[units * 8];
        b[0] = (byte) next;
        b[1] = (byte) (units - 1);
        return b;
    }

    public static byte[] fragment(int next, int offsetUnits, boolean more) {
        Out o = new Out();
        o.u8(next).u8(0).u16(offsetUnits << 3 | (more ? 1 : 0)).u32(0xCAFE);
        return o.toByteArray();
    }

    public static byte[] tcp(int srcPort, int dstPort) {
        Out o = new Out();
        o.u16(srcPort).u16(dstPort).u32(1).u32(0).u8(5 << 4).u8(0x02).u16(65535).u16(0).u16(0);
        return o.toByteArray();
    }

    public static byte[] udp(int srcPort, int dstPort) {
        Out o = new Out();
        o.u16(srcPort).u16(dstPort).u16(8).u16(0);
        return o.toByteArray();
    }

    public static byte[] icmp() {
        return new byte[] {8, 0, 0, 0, 0, 1, 0, 1};
    }

    public static byte[] concat(byte[]... parts) {
        Out o = new Out();
        for (byte[] p : parts) {
            o.bytes(p);
        }
        return o.toByteArray();
    }

    public static PacketHeaders parse(byte[] frame) {
        return PacketParser.parse(MemorySegment.ofArray(frame), 0, frame.length, new PacketHeaders());
    }

    private static final class Out extends ByteArrayOutputStream {
        Out u8(int v) {
            write(v & 0xFF);
            return this;
        }

        Out u16(int v) {
            return u8(v >>> 8).u8(v);
        }

        Out u32(int v) {
            return u16(v >>> 16).u16(v);
        }

        Out u48(long v) {
            return u16((int) (v >>> 32)).u32((int) v);
        }

        Out u64(long v) {
            return u32((int) (v >>> 32)).u32((int) v);
        }

        Out bytes(byte[] b) {
            writeBytes(b);
            return this;
        }
    }
}

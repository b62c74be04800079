package io.vnicd.devmodel.packet;

import static io.vnicd.devmodel.packet.TestFrames.concat;
import static io.vnicd.devmodel.packet.TestFrames.ethernet;
import static io.vnicd.devmodel.packet.TestFrames.extension;
import static io.vnicd.devmodel.packet.TestFrames.fragment;
import static io.vnicd.devmodel.packet.TestFrames.icmp;
import static io.vnicd.devmodel.packet.TestFrames.ipv4;
import static io.vnicd.devmodel.packet.TestFrames.ipv6;
import static io.vnicd.devmodel.packet.TestFrames.parse;
import static io.vnicd.devmodel.packet.TestFrames.tcp;
import static io.vnicd.devmodel.packet.TestFrames.udp;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class PacketParserTest {
    static final long DST = 0x0200_0000_00AAL;
    static final long SRC = 0x0200_0000_00BBL;
    static final int V4_SRC = 0x0A00_0001; // 10.0.0.1
    static final int V4_DST = 0xC0A8_0102; // 192.168.1.2
    static final long V6_HIGH = 0x2001_0DB8_0000_0000L;

    static byte[] ipv4Tcp() {
        return ethernet(DST, SRC, new int[0], 0x0800, ipv4(V4_SRC, V4_DST, 6, new byte[0], 0, tcp(40000, 80)));
    }

    static byte[] qinqIpv4Udp() {
        return ethernet(DST, SRC, new int[] {TestFrames.TPID_AD, 0x2000 | 300, TestFrames.TPID_Q, 42}, 0x0800,
                ipv4(V4_SRC, V4_DST, 17, new byte[0], 0, udp(53, 5353)));
    }

    static byte[] ipv4OptionsTcp() {
        byte[] options = {(byte) 0x94, 4, 0, 0, 1, 1, 1, 0}; // router alert, NOP, NOP, NOP, end
        return ethernet(DST, SRC, new int[] {TestFrames.TPID_Q, 7}, 0x0800, ipv4(V4_SRC, V4_DST, 6, options, 0, tcp(1234, 443)));
    }

    static byte[] ipv6ExtensionsUdp() {
        byte[] chain = concat(extension(43, 1), extension(60, 2), extension(44, 1), fragment(17, 0, true), udp(547, 546));
        return ethernet(DST, SRC, new int[0], 0x86DD, ipv6(V6_HIGH, 1, V6_HIGH, 2, 0, chain));
    }

    static byte[] ipv6Tcp() {
        return ethernet(DST, SRC, new int[0], 0x86DD, ipv6(V6_HIGH, 1, V6_HIGH | 0xFFFF, 0x42, 6, tcp(50000, 22)));
    }

    @Test
    void shouldReadUntaggedIpv4Tcp() {
        PacketHeaders h = parse(ipv4Tcp());
        assertEquals(DST, h.dstMac());
        assertEquals(SRC, h.srcMac());
        assertEquals(-1, h.vlanId());
        assertEquals(0x0800, h.etherType());
        assertEquals(4, h.ipVersion());
        assertEquals(V4_SRC, h.ipv4Src());
        assertEquals(V4_DST, h.ipv4Dst());
        assertEquals(6, h.protocol());
        assertEquals(20, h.ipHeaderLength());
        assertEquals(34, h.l4Offset());
        assertEquals(40000, h.srcPort());
        assertEquals(80, h.dstPort());
        assertFalse(h.truncated() || h.malformed() || h.fragment());
    }

    @Test
    void shouldReadOuterAndInnerTagOfQinq() {
        PacketHeaders h = parse(qinqIpv4Udp());
        assertEquals(300, h.vlanId());
        assertEquals(1, h.vlanPriority());
        assertEquals(42, h.innerVlanId());
        assertEquals(2, h.tagCount());
        assertEquals(0x0800, h.etherType());
        assertEquals(22, h.l3Offset());
        assertEquals(17, h.protocol());
        assertEquals(53, h.srcPort());
        assertEquals(5353, h.dstPort());
        assertFalse(h.truncated() || h.malformed());
    }

    @Test
    void shouldSkipIpv4Options() {
        PacketHeaders h = parse(ipv4OptionsTcp());
        assertEquals(7, h.vlanId());
        assertEquals(-1, h.innerVlanId());
        assertEquals(28, h.ipHeaderLength());
        assertEquals(18 + 28, h.l4Offset());
        assertEquals(1234, h.srcPort());
        assertEquals(443, h.dstPort());
        assertFalse(h.truncated() || h.malformed());
    }

    @Test
    void shouldWalkIpv6ExtensionHeadersToUdpPorts() {
        PacketHeaders h = parse(ipv6ExtensionsUdp());
        assertEquals(6, h.ipVersion());
        assertEquals(V6_HIGH, h.ipv6SrcHigh());
        assertEquals(1, h.ipv6SrcLow());
        assertEquals(2, h.ipv6DstLow());
        assertEquals(17, h.protocol());
        assertTrue(h.fragment(), "first fragment is a fragment");
        assertFalse(h.laterFragment());
        assertEquals(14 + 40 + 8 + 16 + 8 + 8, h.l4Offset());
        assertEquals(547, h.srcPort());
        assertEquals(546, h.dstPort());
        assertFalse(h.truncated() || h.malformed());
    }

    @Test
    void shouldNotPlaceTheTransportHeaderPastAnExtensionHeaderThatOverrunsThePacket() {
        // Found by fuzzing: a hop-by-hop header claiming 256 bytes in a packet of 8, followed by ICMPv6 (no ports).
        byte[] hopByHop = extension(58, 1);
        hopByHop[1] = (byte) 31;
        PacketHeaders h = parse(ethernet(0x0200_0000_0001L, 0x0200_0000_0002L, new int[0], 0x86DD,
                ipv6(V6_HIGH, 1, V6_HIGH, 2, 0, hopByHop)));
        assertTrue(h.truncated());
        assertEquals(58, h.protocol());
        assertEquals(-1, h.l4Offset(), "no transport header inside the frame");
    }

    @Test
    void shouldReadPlainIpv6Tcp() {
        PacketHeaders h = parse(ipv6Tcp());
        assertEquals(V6_HIGH | 0xFFFF, h.ipv6DstHigh());
        assertEquals(0x42, h.ipv6DstLow());
        assertEquals(6, h.protocol());
        assertEquals(22, h.dstPort());
        assertFalse(h.truncated() || h.malformed());
    }

    @Test
    void shouldNotReadPortsOfLaterFragments() {
        PacketHeaders v4 = parse(ethernet(DST, SRC, new int[0], 0x0800, ipv4(V4_SRC, V4_DST, 17, new byte[0], 185, udp(1, 2))));
        assertTrue(v4.fragment() && v4.laterFragment());
        assertEquals(17, v4.protocol());
        assertEquals(-1, v4.srcPort());
        assertEquals(-1, v4.dstPort());

        byte[] chain = concat(fragment(6, 100, false), tcp(1, 2));
        PacketHeaders v6 = parse(ethernet(DST, SRC, new int[0], 0x86DD, ipv6(V6_HIGH, 1, V6_HIGH, 2, 44, chain)));
        assertTrue(v6.fragment() && v6.laterFragment());
        assertEquals(6, v6.protocol());
        assertEquals(-1, v6.srcPort());
        assertFalse(v6.truncated() || v6.malformed());
    }

    @Test
    void shouldReportTruncationAtEveryLengthWithoutThrowing() {
        for (byte[] frame : List.of(ipv4Tcp(), qinqIpv4Udp(), ipv4OptionsTcp(), ipv6ExtensionsUdp(), ipv6Tcp())) {
            PacketHeaders full = parse(frame);
            assertFalse(full.truncated());
            MemorySegment seg = MemorySegment.ofArray(frame);
            PacketHeaders h = new PacketHeaders();
            for (int len = 0; len < frame.length; len++) {
                PacketParser.parse(seg, 0, len, h);
                assertTrue(h.truncated(), "cut at " + len + " of " + frame.length + ": " + h);
                assertFalse(h.malformed(), "cut at " + len + ": " + h);
                assertEquals(len, h.frameLength());
                if (len >= 6) {
                    assertEquals(DST, h.dstMac(), "dst MAC is kept when cut at " + len);
                }
                if (len >= 12) {
                    assertEquals(SRC, h.srcMac(), "src MAC is kept when cut at " + len);
                }
                if (h.srcPort() >= 0) {
                    assertEquals(full.srcPort(), h.srcPort());
                    assertEquals(full.dstPort(), h.dstPort());
                }
            }
        }
    }

    @Test
    void shouldClipARangeThatRunsPastTheBuffer() {
        byte[] frame = ipv4Tcp();
        PacketHeaders h = PacketParser.parse(MemorySegment.ofArray(frame), 0, frame.length + 100, new PacketHeaders());
        assertTrue(h.truncated());
        assertEquals(frame.length, h.frameLength());
        assertEquals(80, h.dstPort());
        PacketParser.parse(MemorySegment.ofArray(frame), frame.length + 1, 10, h);
        assertTrue(h.truncated());
        PacketParser.parse(MemorySegment.ofArray(frame), -1, 10, h);
        assertTrue(h.truncated());
    }

    @Test
    void shouldParseAFrameAtAnOffsetInALargerBuffer() {
        byte[] frame = qinqIpv4Udp();
        byte[] buffer = new byte[frame.length + 37];
        System.arraycopy(frame, 0, buffer, 21, frame.length);
        PacketHeaders h = PacketParser.parse(MemorySegment.ofArray(buffer), 21, frame.length, new PacketHeaders());
        assertEquals(300, h.vlanId());
        assertEquals(5353, h.dstPort());
        assertEquals(22 + 20, h.l4Offset());
        assertFalse(h.truncated() || h.malformed());
    }

    @Test
    void shouldFlagImpossibleHeadersAsMalformed() {
        byte[] badVersion = ipv4Tcp();
        badVersion[14] = 0x55;
        assertTrue(parse(badVersion).malformed());

        byte[] badIhl = ipv4Tcp();
        badIhl[14] = 0x44;
        PacketHeaders h = parse(badIhl);
        assertTrue(h.malformed());
        assertEquals(DST, h.dstMac(), "what came before the fault is kept");

        int[] tags = {0x8100, 1, 0x8100, 2, 0x8100, 3, 0x8100, 4, 0x8100, 5};
        assertTrue(parse(ethernet(DST, SRC, tags, 0x0800, ipv4(V4_SRC, V4_DST, 6, new byte[0], 0, tcp(1, 2)))).malformed());

        byte[] longChain = new byte[0];
        for (int i = 0; i < 9; i++) {
            longChain = concat(longChain, extension(60, 1));
        }
        assertTrue(parse(ethernet(DST, SRC, new int[0], 0x86DD, ipv6(V6_HIGH, 1, V6_HIGH, 2, 60, concat(longChain, udp(1, 2))))).malformed());

        byte[] v6AsV4 = ipv6Tcp();
        v6AsV4[14] = 0x45;
        assertTrue(parse(v6AsV4).malformed());
    }

    @Test
    void shouldLeaveNonIpFramesWithoutL3Fields() {
        PacketHeaders h = parse(ethernet(DST, SRC, new int[] {0x8100, 5}, 0x0806, new byte[28]));
        assertEquals(0x0806, h.etherType());
        assertEquals(5, h.vlanId());
        assertEquals(0, h.ipVersion());
        assertEquals(-1, h.protocol());
        assertEquals(-1, h.srcPort());
        assertFalse(h.truncated() || h.malformed());
        PacketHeaders icmpFrame = parse(ethernet(DST, SRC, new int[0], 0x0800, ipv4(V4_SRC, V4_DST, 1, new byte[0], 0, icmp())));
        assertEquals(1, icmpFrame.protocol());
        assertEquals(-1, icmpFrame.dstPort());
        assertEquals(34, icmpFrame.l4Offset());
    }

    @Test
    void shouldHashBothDirectionsAlikeOnlyWhenSymmetric() {
        PacketHeaders a = parse(ethernet(DST, SRC, new int[0], 0x0800, ipv4(V4_SRC, V4_DST, 6, new byte[0], 0, tcp(40000, 80))));
        PacketHeaders b = parse(ethernet(SRC, DST, new int[0], 0x0800, ipv4(V4_DST, V4_SRC, 6, new byte[0], 0, tcp(80, 40000))));
        assertEquals(a.flowHash(true), b.flowHash(true));
        assertNotEquals(a.flowHash(false), b.flowHash(false));
        PacketHeaders c = parse(ethernet(DST, SRC, new int[0], 0x0800, ipv4(V4_SRC, V4_DST, 6, new byte[0], 0, tcp(40001, 80))));
        assertNotEquals(a.flowHash(true), c.flowHash(true));
        PacketHeaders v6a = parse(ipv6Tcp());
        PacketHeaders v6b = parse(ethernet(SRC, DST, new int[0], 0x86DD, ipv6(V6_HIGH | 0xFFFF, 0x42, V6_HIGH, 1, 6, tcp(22, 50000))));
        assertEquals(v6a.flowHash(true), v6b.flowHash(true));
    }

    @Test
    void shouldSurviveRandomBytes() {
        Random random = new Random(7);
        PacketHeaders h = new PacketHeaders();
        byte[] buffer = new byte[256];
        MemorySegment seg = MemorySegment.ofArray(buffer);
        byte[][] seeds = {ipv4Tcp(), qinqIpv4Udp(), ipv4OptionsTcp(), ipv6ExtensionsUdp(), ipv6Tcp()};
        for (int i = 0; i < 200_000; i++) {
            // Start from a real frame and damage it, so the parser gets deep as well as shallow garbage.
            byte[] s = seeds[i % seeds.length];
            System.arraycopy(s, 0, buffer, 0, s.length);
            int damage = 1 + random.nextInt(4);
            for (int d = 0; d < damage; d++) {
                buffer[random.nextInt(s.length)] = (byte) random.nextInt();
            }
            PacketParser.parse(seg, 0, random.nextInt(buffer.length + 1), h);
            if (h.srcPort() >= 0) {
                assertTrue(h.l4Offset() + 4 <= h.frameLength(), h.toString());
            }
        }
    }
}

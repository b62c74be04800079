package io.vnicd.sriov.router;

import io.vnicd.devmodel.packet.Checksum;
import io.vnicd.devmodel.port.PortIngress;
import io.vnicd.devmodel.vswitch.MacAddress;
import io.vnicd.virtio.datapath.DataPathAgent;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The virtual router's VNICs on two PFs (pf0 serving 10.1.0.0/24, pf1 10.2.0.0/24), driven frame by frame as the
 * PFs' switches would: a host of pf0's subnet seen on pf1 makes it route; ARP, proxy ARP, forwarding with TTL,
 * ICMP errors and echo replies, and the way back through the channel between the PFs.
 */
class VirtualRouterTest {
    private static final ValueLayout.OfShort BE_SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final ValueLayout.OfInt BE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.BIG_ENDIAN);
    private static final int MOVER = Ipv4Subnet.parseAddress("10.1.0.5");
    private static final long MOVER_MAC = 0x5254_0081_0005L;
    private static final int OLD_PEER = Ipv4Subnet.parseAddress("10.1.0.7");
    private static final long OLD_PEER_MAC = 0x5254_0081_0007L;
    private static final int NEW_PEER = Ipv4Subnet.parseAddress("10.2.0.9");
    private static final long NEW_PEER_MAC = 0x5254_0082_0009L;
    private static final int GW1 = Ipv4Subnet.parseAddress("10.1.0.254");
    private static final int GW2 = Ipv4Subnet.parseAddress("10.2.0.254");

    /** What a VNIC put into its PF. */
    static final class Recorder implements PortIngress {
        final List<byte[]> frames = new ArrayList<>();

        @Override
        public int onFrame(int port, int vlan, MemorySegment frame, long offset, int length) {
            frames.add(frame.asSlice(offset, length).toArray(ValueLayout.JAVA_BYTE));
            return SENT;
        }

        @Override
        public int onRetry(MemorySegment frame, long offset, int length, int ticket, long waitedNanos) {
            return onFrame(0, 0, frame, offset, length);
        }

        MemorySegment take() {
            assertFalse(frames.isEmpty(), "a frame came out");
            return MemorySegment.ofArray(frames.removeFirst());
        }
    }

    private final Recorder in0 = new Recorder();
    private final Recorder in1 = new Recorder();
    private DataPathAgent a0;
    private DataPathAgent a1;
    private VirtualRouter router;
    private RouterPort p0;
    private RouterPort p1;

    @BeforeEach
    void build() throws Exception {
        a0 = new DataPathAgent("t0");
        a1 = new DataPathAgent("t1");
        router = new VirtualRouter();
        p0 = router.join("pf0", Ipv4Subnet.parse("10.1.0.0/24"), GW1, a0);
        p1 = router.join("pf1", Ipv4Subnet.parse("10.2.0.0/24"), GW2, a1);
        router.connect();
        p0.attach(0, in0);
        p1.attach(0, in1);
    }

    @AfterEach
    void close() {
        router.close();
        a0.close();
        a1.close();
    }

    private static MemorySegment arp(int op, long sha, int spa, long tha, int tpa) {
        MemorySegment f = Arena.ofAuto().allocate(60);
        MacAddress.write(f, 0, op == 1 ? MacAddress.BROADCAST : tha);
        MacAddress.write(f, 6, sha);
        f.set(BE_SHORT, 12, (short) 0x0806);
        f.set(BE_SHORT, 14, (short) 1);
        f.set(BE_SHORT, 16, (short) 0x0800);
        f.set(ValueLayout.JAVA_BYTE, 18, (byte) 6);
        f.set(ValueLayout.JAVA_BYTE, 19, (byte) 4);
        f.set(BE_SHORT, 20, (short) op);
        MacAddress.write(f, 22, sha);
        f.set(BE_INT, 28, spa);
        MacAddress.write(f, 32, tha);
        f.set(BE_INT, 38, tpa);
        return f;
    }

    /** An ICMP echo request (8 bytes of data) from src to dst with ttl, in an Ethernet frame to dstMac. */
    private static MemorySegment ping(long srcMac, long dstMac, int src, int dst, int ttl) {
        MemorySegment f = Arena.ofAuto().allocate(14 + 20 + 16);
        MacAddress.write(f, 0, dstMac);
        MacAddress.write(f, 6, srcMac);
        f.set(BE_SHORT, 12, (short) 0x0800);
        f.set(ValueLayout.JAVA_BYTE, 14, (byte) 0x45);
        f.set(BE_SHORT, 16, (short) 36);
        f.set(ValueLayout.JAVA_BYTE, 22, (byte) ttl);
        f.set(ValueLayout.JAVA_BYTE, 23, (byte) 1);
        f.set(BE_INT, 26, src);
        f.set(BE_INT, 30, dst);
        f.set(BE_SHORT, 24, (short) ~Checksum.sum(f, 14, 20, 0));
        f.set(ValueLayout.JAVA_BYTE, 34, (byte) 8);
        f.set(BE_INT, 38, 0x1234_0001);
        f.set(BE_SHORT, 36, (short) ~Checksum.sum(f, 34, 16, 0));
        return f;
    }

    private static void send(RouterPort p, MemorySegment f) {
        p.send(f, 0, (int) f.byteSize(), 0);
    }

    private static boolean validIpChecksum(MemorySegment f) {
        return Checksum.sum(f, 14, 20, 0) == 0xffff;
    }

    /** The mover's gratuitous ARP on pf1 (after its migration): the router routes for it from now on. */
    private void moverArrivesOnPf1() {
        assertFalse(router.isActive());
        send(p1, arp(1, MOVER_MAC, MOVER, 0, MOVER));
        assertTrue(router.isActive());
        assertEquals(List.of(new VirtualRouter.Host(MOVER, MOVER_MAC, "pf1", "pf0")), router.hosts());
        p0.poll();
        p1.poll();
        // announcements: on pf0 the mover's address is now at the router; on pf1 the mover's gateway is here
        MemorySegment g0 = in0.take();
        assertEquals(MOVER, g0.get(BE_INT, 28));
        assertEquals(p0.mac(), MacAddress.read(g0, 22));
        MemorySegment g1 = in1.take();
        assertEquals(GW1, g1.get(BE_INT, 28));
        assertEquals(p1.mac(), MacAddress.read(g1, 22));
    }

    @Test
    void shouldStayIdleUntilAHostIsAwayFromHome() {
        send(p0, arp(1, OLD_PEER_MAC, OLD_PEER, 0, GW1));
        send(p0, ping(OLD_PEER_MAC, p0.mac(), OLD_PEER, GW1, 64));
        p0.poll();
        assertTrue(in0.frames.isEmpty(), "an idle router answers nothing");
        assertFalse(p0.linkUp());
        assertEquals(0, p0.addresses().length);
    }

    @Test
    void shouldAnswerArpForItsAddressesAndProxyForHostsAcrossIt() {
        moverArrivesOnPf1();
        // the mover asks for its gateway, and for its old neighbour: both answered by the router on pf1
        send(p1, arp(1, MOVER_MAC, MOVER, 0, GW1));
        send(p1, arp(1, MOVER_MAC, MOVER, 0, OLD_PEER));
        p1.poll();
        for (int asked : new int[] {GW1, OLD_PEER}) {
            MemorySegment r = in1.take();
            assertEquals(2, r.get(BE_SHORT, 20) & 0xffff, "a reply");
            assertEquals(asked, r.get(BE_INT, 28));
            assertEquals(p1.mac(), MacAddress.read(r, 22));
            assertEquals(MOVER_MAC, MacAddress.read(r, 0));
        }
        // on pf0 the old neighbour asks for the mover: the router answers for it
        send(p0, arp(1, OLD_PEER_MAC, OLD_PEER, 0, MOVER));
        p0.poll();
        assertEquals(p0.mac(), MacAddress.read(in0.take(), 22));
        assertEquals(1, p0.routerCounters().get(RouterCounter.PROXY_ARP_REPLIES.ordinal()));
        // the new subnet's gateway answers on pf1; nobody answers for a host of pf1's own subnet
        send(p1, arp(1, NEW_PEER_MAC, NEW_PEER, 0, GW2));
        send(p1, arp(1, NEW_PEER_MAC, NEW_PEER, 0, Ipv4Subnet.parseAddress("10.2.0.10")));
        p1.poll();
        assertEquals(GW2, in1.take().get(BE_INT, 28));
        assertTrue(in1.frames.isEmpty());
    }

    @Test
    void shouldRouteFromTheNewSubnetToTheMoverAndBackWithTtlDecremented() {
        moverArrivesOnPf1();
        // learn the new peer (its ARP for its gateway), then its ping to the mover through the router
        send(p1, arp(1, NEW_PEER_MAC, NEW_PEER, 0, GW2));
        p1.poll();
        in1.take();
        send(p1, ping(NEW_PEER_MAC, p1.mac(), NEW_PEER, MOVER, 64));
        p1.poll();
        MemorySegment out = in1.take();
        assertEquals(MOVER_MAC, MacAddress.read(out, 0), "to the mover, whose MAC the router knows");
        assertEquals(p1.mac(), MacAddress.read(out, 6));
        assertEquals(63, out.get(ValueLayout.JAVA_BYTE, 22));
        assertTrue(validIpChecksum(out), "header checksum updated with the TTL");
        // the mover's answer to the new peer goes to its gateway (10.1.0.254, the router on pf1)
        send(p1, ping(MOVER_MAC, p1.mac(), MOVER, NEW_PEER, 64));
        p1.poll();
        MemorySegment back = in1.take();
        assertEquals(NEW_PEER_MAC, MacAddress.read(back, 0));
        assertEquals(2, p1.routerCounters().get(RouterCounter.FORWARDED.ordinal()));
    }

    @Test
    void shouldRouteBetweenTheMoverAndItsOldNeighboursAcrossThePfs() {
        moverArrivesOnPf1();
        // the mover sends to its old neighbour's MAC (from its ARP cache): flooded on pf1, taken by the router
        send(p1, ping(MOVER_MAC, OLD_PEER_MAC, MOVER, OLD_PEER, 64));
        p1.flush();
        p0.poll();
        MemorySegment who = in0.take();
        assertEquals(1, who.get(BE_SHORT, 20) & 0xffff, "pf0's VNIC resolves the old neighbour first");
        assertEquals(OLD_PEER, who.get(BE_INT, 38));
        assertEquals(GW1, who.get(BE_INT, 28));
        assertEquals(1, p0.routerCounters().get(RouterCounter.ARP_MISSES.ordinal()));
        send(p0, arp(2, OLD_PEER_MAC, OLD_PEER, p0.mac(), GW1));
        send(p1, ping(MOVER_MAC, OLD_PEER_MAC, MOVER, OLD_PEER, 64));
        p1.flush();
        p0.poll();
        MemorySegment there = in0.take();
        assertEquals(OLD_PEER_MAC, MacAddress.read(there, 0));
        assertEquals(p0.mac(), MacAddress.read(there, 6));
        assertEquals(63, there.get(ValueLayout.JAVA_BYTE, 22));
        // and back: the old neighbour sends to the router's MAC (proxy ARP), the mover gets it on pf1
        send(p0, ping(OLD_PEER_MAC, p0.mac(), OLD_PEER, MOVER, 64));
        p0.flush();
        p1.poll();
        MemorySegment home = in1.take();
        assertEquals(MOVER_MAC, MacAddress.read(home, 0));
        assertTrue(validIpChecksum(home));
    }

    @Test
    void shouldSendIcmpErrorsAndAnswerPings() {
        moverArrivesOnPf1();
        send(p1, ping(MOVER_MAC, p1.mac(), MOVER, NEW_PEER, 1));
        p1.poll();
        MemorySegment te = in1.take();
        assertEquals(11, te.get(ValueLayout.JAVA_BYTE, 34), "time exceeded");
        assertEquals(GW1, te.get(BE_INT, 26), "from the mover's gateway");
        assertEquals(MOVER, te.get(BE_INT, 30));
        assertTrue(validIpChecksum(te));
        assertEquals(0xffff, Checksum.sum(te, 34, (te.get(BE_SHORT, 16) & 0xffff) - 20, 0), "ICMP checksum");
        assertEquals(NEW_PEER, te.get(BE_INT, 34 + 8 + 16), "quoting the packet's header");

        send(p1, ping(MOVER_MAC, p1.mac(), MOVER, Ipv4Subnet.parseAddress("192.0.2.1"), 64));
        p1.poll();
        MemorySegment un = in1.take();
        assertEquals(3, un.get(ValueLayout.JAVA_BYTE, 34), "destination unreachable");

        send(p1, ping(MOVER_MAC, p1.mac(), MOVER, GW1, 64));
        p1.poll();
        MemorySegment echo = in1.take();
        assertEquals(0, echo.get(ValueLayout.JAVA_BYTE, 34), "echo reply");
        assertEquals(GW1, echo.get(BE_INT, 26));
        assertEquals(0xffff, Checksum.sum(echo, 34, 16, 0));
        assertEquals(1, p1.routerCounters().get(RouterCounter.TTL_EXCEEDED.ordinal()));
        assertEquals(1, p1.routerCounters().get(RouterCounter.UNREACHABLE.ordinal()));
    }

    @Test
    void shouldStopRoutingWhenTheHostIsBackHomeOrRemoved() {
        moverArrivesOnPf1();
        send(p0, arp(1, MOVER_MAC, MOVER, 0, MOVER));
        assertFalse(router.isActive(), "the mover is home again");
        router.declare(MOVER, "pf1");
        assertTrue(router.isActive());
        assertTrue(router.remove(MOVER, "test"));
        assertFalse(router.isActive());
        assertFalse(router.remove(MOVER, "test"));
        assertThrows(IllegalArgumentException.class, () -> router.declare(MOVER, "pf0"), "at home: nothing to route");
        assertThrows(IllegalArgumentException.class, () -> router.declare(Ipv4Subnet.parseAddress("192.0.2.1"), "pf1"));
    }

    @Test
    void shouldRefuseOverlappingSubnetsAndAGatewayOutsideItsSubnet() {
        VirtualRouter r = new VirtualRouter();
        r.join("a", Ipv4Subnet.parse("10.0.0.0/16"), Ipv4Subnet.parseAddress("10.0.0.1"), a0);
        assertThrows(IllegalArgumentException.class, () -> r.join("b", Ipv4Subnet.parse("10.0.5.0/24"),
                Ipv4Subnet.parseAddress("10.0.5.1"), a0));
        assertThrows(IllegalArgumentException.class, () -> r.join("c", Ipv4Subnet.parse("10.9.0.0/24"),
                Ipv4Subnet.parseAddress("10.8.0.1"), a0));
        assertThrows(IllegalArgumentException.class, () -> Ipv4Subnet.parse("10.1.0.1/24"), "host bits");
        r.close();
    }
}

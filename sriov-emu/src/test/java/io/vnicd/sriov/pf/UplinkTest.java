package io.vnicd.sriov.pf;

import io.vnicd.devmodel.packet.Checksum;
import io.vnicd.devmodel.packet.PacketHeaders;
import io.vnicd.devmodel.packet.PacketParser;
import io.vnicd.devmodel.port.PortCounter;
import io.vnicd.devmodel.vswitch.MacAddress;
import io.vnicd.nativeio.PacketSocket;
import io.vnicd.sriov.uplink.AggregationPolicy;
import io.vnicd.sriov.uplink.Failover;
import io.vnicd.sriov.uplink.NicCounter;
import io.vnicd.sriov.uplink.Transport;
import io.vnicd.sriov.uplink.Uplink;
import io.vnicd.testkit.Peers;
import io.vnicd.testkit.TestNetwork;
import io.vnicd.virtio.testing.TestGuest;
import io.vnicd.virtio.vhostuser.VhostUserEndpoint;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A PF on the wire: its uplink over veth pairs this test makes, the far ends read and written by AF_PACKET sockets
 * of the test (the wire), VFs driven by Java test guests. Frames cross both ways, in their VLANs; when the active
 * backing NIC is deleted or loses its carrier, the VF's station moves to the other and is announced there; with no
 * healthy NIC the VFs' links go down, and come back with one. The uplink's NICs over AF_PACKET here, over AF_XDP in
 * {@link UplinkOverXdpTest}; the wire's sockets are AF_PACKET.
 */
class UplinkTest {
    private static final long MAC0 = 0x02_00_00_00_07_01L;
    private static final long MAC1 = 0x02_00_00_00_07_02L;
    private static final long FAR = 0x02_00_00_00_07_99L;
    private static final int IP0 = 0x0a_4d_00_02; // 10.77.0.2
    private static final Duration WAIT = Duration.ofSeconds(10);

    private final Transport transport = transport();
    @TempDir
    Path dir;
    TestNetwork net;
    PhysicalFunction pf;
    private final List<PacketSocket> wires = new ArrayList<>();
    private final Arena arena = Arena.ofShared();

    /** The transport of the uplink's NICs. */
    Transport transport() {
        return Transport.AF_PACKET;
    }

    @BeforeEach
    void setUp() {
        net = TestNetwork.create("uplink");
    }

    @AfterEach
    void tearDown() {
        if (pf != null) {
            pf.close();
        }
        for (PacketSocket w : wires) {
            w.close();
        }
        net.close();
        arena.close();
    }

    /** A veth pair: a for the PF's uplink, b the wire's end, both quiet (no IPv6 chatter). */
    TestNetwork.VethPair pair(String a, String b) {
        TestNetwork.VethPair p = net.veth(a, b);
        net.quiet(null, p.a());
        net.quiet(null, p.b());
        return p;
    }

    private PacketSocket wire(String ifname) throws Exception {
        PacketSocket s = PacketSocket.open(ifname, PacketSocket.Options.defaults().withPromiscuous(true));
        wires.add(s);
        return s;
    }

    PhysicalFunction start(AggregationPolicy policy, int vlan1, String... uplinks) throws Exception {
        return start(transport, policy, vlan1, uplinks);
    }

    PhysicalFunction start(Transport over, AggregationPolicy policy, int vlan1, String... uplinks) throws Exception {
        pf = new PhysicalFunction("pf-wire");
        pf.addVirtualFunction("vf0", dir.resolve("vf0.sock"), VhostUserEndpoint.Mode.SERVER, 1, MAC0, Duration.ofMillis(100));
        pf.addVirtualFunction("vf1", dir.resolve("vf1.sock"), VhostUserEndpoint.Mode.SERVER, 1, MAC1, vlan1, Duration.ofMillis(100));
        pf.addUplink(List.of(uplinks), policy, false, over);
        pf.start();
        return pf;
    }

    /** The next frame on the wire that test accepts (others, e.g. announcements, are skipped), or null. */
    private static Received await(PacketSocket wire, Predicate<Received> test, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        Received[] found = {null};
        while (found[0] == null && System.nanoTime() < deadline) {
            wire.receive((segment, offset, length, tci, partial) -> {
                Received r = new Received(segment.asSlice(offset, length).toArray(ValueLayout.JAVA_BYTE), tci);
                if (found[0] == null && test.test(r)) {
                    found[0] = r;
                }
                return true;
            }, 64);
            Thread.onSpinWait();
        }
        return found[0];
    }

    record Received(byte[] frame, int tci) {
        long dst() {
            return MacAddress.read(MemorySegment.ofArray(frame), 0);
        }

        long src() {
            return MacAddress.read(MemorySegment.ofArray(frame), 6);
        }

        int type() {
            return (frame[12] & 0xff) << 8 | frame[13] & 0xff;
        }
    }

    private void sendOnWire(PacketSocket wire, byte[] frame, int tci) {
        MemorySegment m = arena.allocate(frame.length);
        MemorySegment.copy(frame, 0, m, ValueLayout.JAVA_BYTE, 0, frame.length);
        assertTrue(wire.send(m, 0, frame.length, tci));
        wire.flush();
    }

    /** An ARP reply-ish frame from mac at ip: the uplink learns the station's address from it. */
    private static byte[] arpFrom(long mac, int ip, long to) {
        byte[] f = TestGuest.frame(to, mac, 60, 0);
        f[12] = 0x08;
        f[13] = 0x06;
        MemorySegment m = MemorySegment.ofArray(f);
        m.set(ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.BIG_ENDIAN), 28, ip);
        return f;
    }

    @Test
    void shouldCarryFramesBetweenVfsAndTheWireInTheirVlans() throws Exception {
        TestNetwork.VethPair p = pair("up", "wr");
        PacketSocket wire = wire(p.b());
        start(AggregationPolicy.ACTIVE_BACKUP, 100, p.a());
        try (TestGuest g0 = TestGuest.connect(dir.resolve("vf0.sock"));
             TestGuest g1 = TestGuest.connect(dir.resolve("vf1.sock"))) {
            Links.awaitUp(pf, 2);
            byte[] out = TestGuest.frame(FAR, MAC0, 300, 1);
            g0.send(out);
            Received r = await(wire, x -> x.src() == MAC0, WAIT);
            assertNotNull(r, "vf0's frame reaches the wire");
            assertArrayEquals(out, r.frame());
            assertEquals(-1, r.tci(), "untagged: vf0 is in VLAN 0");
            // The far station answers; its address is learned behind the uplink.
            byte[] in = TestGuest.frame(MAC0, FAR, 1514, 2);
            sendOnWire(wire, in, -1);
            assertArrayEquals(in, g0.receive(WAIT), "the wire's frame reaches vf0");
            assertNull(g1.receive(Duration.ofMillis(200)), "vf1 is in VLAN 100: nothing of VLAN 0");
            // vf1 is in VLAN 100: its frames go out tagged, tagged ones come in untagged.
            byte[] tagged = TestGuest.frame(FAR, MAC1, 100, 3);
            g1.send(tagged);
            Received t = await(wire, x -> x.src() == MAC1, WAIT);
            assertNotNull(t);
            assertEquals(100, t.tci() & 0xfff, "tagged with vf1's VLAN on the wire");
            byte[] back = TestGuest.frame(MAC1, FAR, 100, 4);
            sendOnWire(wire, back, 100);
            assertArrayEquals(back, g1.receive(WAIT));
            // A broadcast in VLAN 0 from the wire reaches vf0 only.
            byte[] bcast = TestGuest.frame(MacAddress.BROADCAST, FAR, 60, 5);
            sendOnWire(wire, bcast, -1);
            assertArrayEquals(bcast, g0.receive(WAIT));
            assertNull(g1.receive(Duration.ofMillis(200)));
            Uplink up = pf.uplink();
            assertTrue(up.linkUp());
            assertEquals("active", up.nics().getFirst().state());
            assertEquals(transport == Transport.AF_PACKET ? "af_packet" : "af_xdp (drv, copy)", up.nics().getFirst().transport());
            assertEquals(3, up.counters().get(PortCounter.IN_FRAMES), "three frames came in from the wire");
            assertEquals(2, up.counters().get(PortCounter.OUT_FRAMES), "two went out");
        }
    }

    @Test
    void shouldMoveTheStationsToTheOtherNicAndAnnounceThemWhenTheActiveOneGoes() throws Exception {
        TestNetwork.VethPair pa = pair("ua", "wa");
        TestNetwork.VethPair pb = pair("ub", "wb");
        PacketSocket wa = wire(pa.b());
        PacketSocket wb = wire(pb.b());
        start(AggregationPolicy.ACTIVE_BACKUP, 0, pa.a(), pb.a());
        try (TestGuest g0 = TestGuest.connect(dir.resolve("vf0.sock"))) {
            Links.awaitUp(pf, 1);
            g0.send(arpFrom(MAC0, IP0, FAR));
            assertNotNull(await(wa, x -> x.src() == MAC0, WAIT), "the preferred NIC carries vf0's traffic");
            assertEquals(List.of("active", "standby"), pf.uplink().nics().stream().map(Uplink.NicStatus::state).toList());

            net.delete(pa.a());
            Received garp = await(wb, x -> x.src() == MAC0 && x.type() == 0x0806, WAIT);
            assertNotNull(garp, "a gratuitous ARP for vf0's address on the NIC it moved to");
            assertEquals(MacAddress.BROADCAST, garp.dst());
            assertEquals(IP0, MemorySegment.ofArray(garp.frame()).get(ValueLayout.JAVA_INT_UNALIGNED.withOrder(java.nio.ByteOrder.BIG_ENDIAN), 38),
                    "target address = sender address: an announcement");
            byte[] after = TestGuest.frame(FAR, MAC0, 200, 7);
            g0.send(after);
            assertNotNull(await(wb, x -> x.src() == MAC0 && x.type() == 0x0800, WAIT), "traffic continues on the other NIC");
            long gone = System.nanoTime() + WAIT.toNanos();
            while (!pf.uplink().nics().getFirst().state().equals("absent") && System.nanoTime() < gone) {
                Thread.sleep(5);
            }
            Failover f = pf.uplink().failovers().getLast();
            assertEquals(pa.a(), f.from());
            assertEquals(pb.a(), f.to());
            assertEquals("deleted", f.reason());
            assertEquals(1, f.stations());
            assertTrue(f.remapMicros() >= 0 && f.firstFrameMicros() >= f.remapMicros(), f.toString());
            assertEquals("absent", pf.uplink().nics().getFirst().state(), "its socket closed: the interface is gone");
            assertTrue(g0.frontend() != null && pf.virtualFunctions().getFirst().connected(), "the guest saw no link change");

            // The deleted interface comes back under its name: taken back as standby, without a restart.
            TestNetwork.VethPair again = net.veth("ua", "wa");
            assertEquals(pa.a(), again.a(), "the same name as before");
            net.quiet(null, again.a());
            net.quiet(null, again.b());
            PacketSocket wa2 = wire(again.b());
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (!pf.uplink().nics().getFirst().state().equals("standby") && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertEquals("standby", pf.uplink().nics().getFirst().state(), "re-created, taken back (no failback)");
            // Now the other kind of failure: the wire's end goes down, the active NIC loses its carrier.
            net.setDown(pb.b());
            assertNotNull(await(wa2, x -> x.src() == MAC0 && x.type() == 0x0806, WAIT), "announced on the first NIC again");
            g0.send(TestGuest.frame(FAR, MAC0, 200, 8));
            assertNotNull(await(wa2, x -> x.src() == MAC0 && x.type() == 0x0800, WAIT));
            assertEquals("carrier lost", pf.uplink().failovers().getLast().reason());
            assertEquals(1, pf.uplink().nics().get(1).counters().get(NicCounter.CARRIER_LOSSES));
        }
    }

    @Test
    void shouldLeaveEveryStationOnAHealthyNicAfterAFlapStorm() throws Exception {
        TestNetwork.VethPair pa = pair("fa", "ga");
        TestNetwork.VethPair pb = pair("fb", "gb");
        start(AggregationPolicy.VF, 0, pa.a(), pb.a());
        try (TestGuest g0 = TestGuest.connect(dir.resolve("vf0.sock"));
             TestGuest g1 = TestGuest.connect(dir.resolve("vf1.sock"))) {
            Links.awaitUp(pf, 2);
            g0.send(arpFrom(MAC0, IP0, FAR));
            g1.send(arpFrom(MAC1, IP0 + 1, FAR));
            // 100 carrier flaps within a second or two, on both NICs, the VFs sending all along
            Thread storm = Thread.ofPlatform().start(() -> {
                for (int i = 0; i < 50; i++) {
                    for (String far : List.of(pa.b(), pb.b())) {
                        net.setDown(far);
                        net.setUp(far);
                    }
                }
            });
            int sent = 0;
            while (storm.isAlive()) {
                g0.send(TestGuest.frame(FAR, MAC0, 64, sent));
                g1.send(TestGuest.frame(FAR, MAC1, 64, sent));
                sent++;
                Thread.sleep(1);
            }
            storm.join();
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (!List.of("active", "active").equals(pf.uplink().nics().stream().map(Uplink.NicStatus::state).toList())
                    && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertEquals(List.of("active", "active"), pf.uplink().nics().stream().map(Uplink.NicStatus::state).toList(),
                    "both NICs are back in use");
            assertTrue(pf.uplink().failovers().size() >= 10, "the storm was seen: " + pf.uplink().failovers().size());
            // every station is on a healthy NIC, and a frame from each reaches the wire there
            g0.send(TestGuest.frame(FAR, MAC0, 64, 9999));
            g1.send(TestGuest.frame(FAR, MAC1, 64, 9999));
            PacketSocket wa = wire(pa.b());
            PacketSocket wb = wire(pb.b());
            for (Uplink.Station st : pf.uplink().stationMap()) {
                assertTrue(List.of(pa.a(), pb.a()).contains(st.nic()), st.toString());
                PacketSocket w = st.nic().equals(pa.a()) ? wa : wb;
                byte[] probe = TestGuest.frame(FAR, st.mac(), 70, 77);
                (st.mac() == MAC0 ? g0 : g1).send(probe);
                assertNotNull(await(w, x -> x.src() == st.mac() && x.frame().length == 70, WAIT),
                        "station " + MacAddress.format(st.mac()) + " sends on " + st.nic());
            }
            deadline = System.nanoTime() + WAIT.toNanos();
            while (pf.uplink().busy() && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertFalse(pf.uplink().busy(), "no frame stuck in a NIC's ring");
            for (VirtualFunction vf : pf.virtualFunctions()) {
                assertFalse(vf.device().queuePair(0).isWaiting(), vf.name() + ": no frame waiting in its queue");
            }
            assertEquals(sent + 2 + 1, pf.virtualFunctions().get(0).device().queuePair(0).txFrames(),
                    "vf0's queue took every frame it was given");
        }
    }

    /**
     * The uplink's sockets are in the data path's epoll set only while it sleeps: a frame from the wire must still
     * wake it each time, at once rather than by the sleep's 500 ms safety net.
     */
    @Test
    void shouldWakeTheSleepingDataPathForEachFrameFromTheWire() throws Exception {
        TestNetwork.VethPair p = pair("us", "ws");
        PacketSocket wire = wire(p.b());
        start(AggregationPolicy.ACTIVE_BACKUP, 0, p.a());
        try (TestGuest g0 = TestGuest.connect(dir.resolve("vf0.sock"))) {
            Links.awaitUp(pf, 1);
            for (int i = 0; i < 5; i++) {
                long slept = pf.agent().sleeps();
                long deadline = System.nanoTime() + WAIT.toNanos();
                while (!(pf.agent().isSleeping() && pf.agent().sleeps() > slept) && System.nanoTime() < deadline) {
                    Thread.sleep(1);
                }
                assertTrue(pf.agent().sleeps() > slept, "the idle data path sleeps");
                byte[] in = TestGuest.frame(MAC0, FAR, 60 + i, i);
                long sent = System.nanoTime();
                sendOnWire(wire, in, -1);
                assertArrayEquals(in, g0.receive(WAIT), "frame " + i + " reaches vf0");
                long millis = (System.nanoTime() - sent) / 1_000_000;
                assertTrue(millis < 300, "frame " + i + " woke the data path: " + millis + " ms");
            }
        }
    }

    /**
     * An interface set down leaves its socket an error (ENETDOWN) that keeps reporting EPOLLERR until read: the data
     * path must not take that for work each time it goes to sleep, and spin while a NIC is down.
     */
    @Test
    void shouldSleepWhileItsBackingNicIsDown() throws Exception {
        TestNetwork.VethPair p = pair("ud", "wd");
        start(AggregationPolicy.ACTIVE_BACKUP, 0, p.a());
        net.setDown(p.a());
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (pf.uplink().linkUp() && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertFalse(pf.uplink().linkUp());
        Thread.sleep(200);
        long before = pf.agent().sleeps();
        Thread.sleep(1000);
        long slept = pf.agent().sleeps() - before;
        assertTrue(slept < 50, "the idle data path sleeps until there is work: " + slept + " sleeps in 1 s");
        net.setUp(p.a());
        deadline = System.nanoTime() + WAIT.toNanos();
        while (!pf.uplink().linkUp() && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertTrue(pf.uplink().linkUp());
        Thread.sleep(200);
        before = pf.agent().sleeps();
        Thread.sleep(1000);
        slept = pf.agent().sleeps() - before;
        assertTrue(slept < 50, "and once it is up again: " + slept + " sleeps in 1 s");
    }

    @Test
    void shouldTakeTheVfsLinksDownWhileNoNicIsHealthy() throws Exception {
        TestNetwork.VethPair p = pair("ul", "wl");
        start(AggregationPolicy.ACTIVE_BACKUP, 0, p.a());
        VirtualFunction vf0 = pf.virtualFunctions().getFirst();
        try (TestGuest g0 = TestGuest.connect(dir.resolve("vf0.sock"))) {
            Links.awaitUp(pf, 1);
            assertNotNull(g0.frontend());
            net.setDown(p.b());
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (vf0.connected() && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertFalse(vf0.connected(), "the frontend is let go: QEMU sets its guest's link down");
            assertFalse(pf.uplink().linkUp());
            assertFalse(vf0.endpoint().carrier());
        }
        net.setUp(p.b());
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!vf0.endpoint().carrier() && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertTrue(vf0.endpoint().carrier());
        Thread.sleep(100);
        try (TestGuest back = TestGuest.connect(dir.resolve("vf0.sock"))) {
            assertNotNull(back.frontend());
            Links.awaitUp(pf, 1);
            assertTrue(vf0.connected(), "a frontend is served again once a NIC is healthy");
        }
    }

    @Test
    void shouldCompleteTheChecksumOfFramesAHostSenderLeftToTheDevice() throws Exception {
        String ns = net.netns("host");
        TestNetwork.VethPair p = net.veth("uc", "hc", ns, "10.77.0.1/24");
        net.quiet(null, p.a());
        net.quiet(ns, p.b());
        boolean xdp = transport == Transport.AF_XDP;
        if (xdp) {
            // XDP sees no CHECKSUM_PARTIAL: the sender behind the veth must fill its checksums in itself, as
            // XdpSocket documents (and OVS's AF_XDP guide asks of a veth peer)
            net.exec(ns, Peers.executable("ethtool", "apt-get install ethtool").toString(), "-K", p.b(), "tx", "off").orThrow();
        }
        start(AggregationPolicy.ACTIVE_BACKUP, 0, p.a());
        try (TestGuest g0 = TestGuest.connect(dir.resolve("vf0.sock"))) {
            Links.awaitUp(pf, 1);
            net.exec(ns, "ip", "neigh", "replace", "10.77.0.2", "lladdr", MacAddress.format(MAC0), "dev", p.b()).orThrow();
            // bash's /dev/udp: the host's stack sends a UDP datagram with its checksum left to the veth ("offloaded")
            net.exec(ns, "bash", "-c", "echo vnicd-checksum > /dev/udp/10.77.0.2/9").orThrow();
            byte[] f = null;
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (System.nanoTime() < deadline) {
                f = g0.receive(Duration.ofMillis(500));
                if (f != null && f.length > 23 && f[12] == 0x08 && f[13] == 0x00 && f[23] == 17) {
                    break;
                }
            }
            assertNotNull(f, "the datagram reached vf0");
            MemorySegment m = MemorySegment.ofArray(f.clone());
            PacketHeaders h = PacketParser.parse(m, 0, f.length, new PacketHeaders());
            int l4 = h.l4Offset();
            int udpLength = (f[l4 + 4] & 0xff) << 8 | f[l4 + 5] & 0xff;
            // the pseudo-header sum, then the datagram with its checksum: a valid one sums to 0xffff
            int pseudo = Checksum.sum(m, 26, 8, 17 + udpLength);
            assertEquals(0xffff, Checksum.sum(m, l4, udpLength, pseudo), "the UDP checksum is valid");
            long completed = pf.uplink().nics().getFirst().counters().get(NicCounter.RX_CHECKSUMS_COMPLETED);
            if (xdp) {
                assertEquals(0, completed, "the sender completed it: nothing left to the uplink");
            } else {
                assertTrue(completed >= 1, "the uplink completed it");
            }
        }
    }
}

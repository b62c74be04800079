package io.vnicd.nativeio;

import io.vnicd.testkit.Peers;
import io.vnicd.testkit.TestNetwork;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * XdpSocket over a veth pair whose two ends are in this namespace (no addresses, IPv6 off: nothing else talks): the
 * AF_XDP socket on end a, a {@link PacketSocket} on end b as the wire. Skipped (failed in CI) where the kernel
 * refuses AF_XDP sockets or the XDP program.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class XdpSocketTest {
    private static final long WAIT_NANOS = TimeUnit.SECONDS.toNanos(5);

    private TestNetwork net;
    private String a;
    private String b;
    private final int marker = ThreadLocalRandom.current().nextInt();
    private final Arena arena = Arena.ofConfined();
    private final MemorySegment buf = arena.allocate(16 << 10);

    @BeforeEach
    void createVethPair() {
        net = TestNetwork.create("xdp");
        TestNetwork.VethPair pair = net.veth("xda", "xdb");
        a = pair.a();
        b = pair.b();
        net.quiet(null, a);
        net.quiet(null, b);
    }

    @AfterEach
    void removeVethPair() {
        arena.close();
        if (net != null) {
            net.close();
        }
    }

    /** An AF_XDP socket on ifname, or the test skipped (failed in CI) naming what the kernel refused. */
    static XdpSocket open(String ifname, XdpSocket.Options options) {
        try {
            return XdpSocket.open(ifname, options);
        } catch (NativeException e) {
            int errno = e.errno();
            // EAFNOSUPPORT: no XDP sockets; ENOSYS: no bpf(2); EPERM: no CAP_BPF / CAP_NET_ADMIN; EINVAL from bpf(2):
            // no BPF links for XDP (before 5.9); EOPNOTSUPP: neither driver nor generic XDP on the interface
            boolean refused = errno == Errno.EAFNOSUPPORT || errno == Errno.ENOSYS || errno == Errno.EPERM
                    || errno == Errno.EOPNOTSUPP || errno == Errno.EINVAL && e.call().startsWith("bpf(");
            Peers.require(!refused, "AF_XDP sockets and XDP programs on veth (the kernel refused: " + e.getMessage() + ")");
            throw new IllegalStateException(e);
        }
    }

    private XdpSocket open(XdpSocket.Options options) {
        return open(a, options);
    }

    private static PacketSocket wire(String ifname) throws NativeException {
        return PacketSocket.open(ifname, PacketSocket.Options.defaults().withQdiscBypass(true));
    }

    private boolean send(NicSocket tx, int length, int seq, int vlanTci) {
        TestFrames.write(buf, 0, length, marker, seq);
        return tx.send(buf, 0, length, vlanTci);
    }

    private static void awaitFrames(NicSocket rx, TestFrames.Collector c, int want) {
        TestFrames.awaitFrames(rx, c, want, WAIT_NANOS);
    }

    private static List<Integer> sequences(TestFrames.Collector c) {
        return TestFrames.sequences(c);
    }

    /** Sends count frames of length from tx to rx, all of them, one thread; returns frames per second. */
    private double stream(NicSocket tx, NicSocket rx, int count, int length, TestFrames.Collector c) {
        int next = 0;
        long start = System.nanoTime();
        long last = start;
        while (c.frames.size() < count && System.nanoTime() - last < WAIT_NANOS) {
            while (next < count && send(tx, length, next, -1)) {
                next++;
            }
            tx.flush();
            if (rx.receive(c, 1024) > 0) {
                last = System.nanoTime();
            }
        }
        return count / ((System.nanoTime() - start) / 1e9);
    }

    private void assertWholeAndInOrder(TestFrames.Collector c, int count, int length) {
        assertEquals(count, c.frames.size(), "frames received");
        for (int i = 0; i < count; i++) {
            TestFrames.Received r = c.frames.get(i);
            assertEquals(i, r.seq(), "frame in order");
            assertEquals(length, r.length(), "frame " + i + " whole");
            assertTrue(r.intact(), "frame " + i + " unchanged");
            assertEquals(-1, r.vlanTci(), "frame " + i + " untagged");
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {64, 1500})
    void shouldDeliverManyRingsWorthOfFramesWholeAndInOrderBothWays(int length) throws Exception {
        int count = 20_000;
        try (XdpSocket xdp = open(XdpSocket.Options.defaults().withRings(512, 512));
             PacketSocket wire = wire(b)) {
            TestFrames.Collector out = new TestFrames.Collector(marker);
            double txRate = stream(xdp, wire, count, length, out);
            TestFrames.Collector in = new TestFrames.Collector(marker);
            double rxRate = stream(wire, xdp, count, length, in);
            System.out.printf("%d frames of %d B over a veth pair, %s: out %.0f frames/s, in %.0f frames/s"
                    + " (send+flush+receive, one thread)%n", count, length, xdp.transport(), txRate, rxRate);

            assertWholeAndInOrder(out, count, length);
            assertWholeAndInOrder(in, count, length);
            assertEquals(count, xdp.txFrames());
            assertEquals((long) count * length, xdp.txBytes());
            assertEquals(0, xdp.txErrors() + xdp.txTooBig());
            assertFalse(xdp.txPending());
            xdp.pollKernelStats();
            assertEquals(0, xdp.rxKernelDrops(), "frames the kernel dropped for want of ring space");
            assertEquals(count + in.others, xdp.rxFrames());
            assertTrue(xdp.rxBytes() >= (long) count * length);
            assertEquals(0, xdp.malformed());
        }
    }

    @Test
    void shouldRunInTheDriverAndSayHowFramesCross() throws Exception {
        try (XdpSocket xdp = open(XdpSocket.Options.defaults())) {
            System.out.println("veth: " + xdp.transport());
            assertTrue(xdp.driverMode(), "veth has native XDP");
            assertTrue(xdp.transport().startsWith("af_xdp (drv, "), xdp.transport());
            assertEquals(0, xdp.queue());
        }
        try (XdpSocket generic = open(XdpSocket.Options.defaults().withSkbMode(true))) {
            assertFalse(generic.driverMode());
            assertFalse(generic.zeroCopy(), "generic XDP copies");
            assertEquals("af_xdp (skb, copy)", generic.transport());
            try (PacketSocket wire = wire(b)) {
                TestFrames.Collector in = new TestFrames.Collector(marker);
                assertTrue(stream(wire, generic, 100, 200, in) > 0);
                assertWholeAndInOrder(in, 100, 200);
            }
        }
    }

    @Test
    void shouldStripAReceivedTagIntoTheTciAndInsertOneItSends() throws Exception {
        int s8021ad = NicSocket.VLAN_8021AD | 0x0005;
        try (XdpSocket xdp = open(XdpSocket.Options.defaults());
             PacketSocket wire = wire(b)) {
            // in: the wire's socket puts the tag in the frame, AF_XDP sees it inline
            assertTrue(send(wire, 100, 0, 0x2064)); // PCP 1, VID 100
            assertTrue(send(wire, 100, 1, -1));
            assertTrue(send(wire, 1500, 2, 0x0fff));
            assertTrue(send(wire, 100, 3, s8021ad));
            assertTrue(send(wire, 60, 4, 0)); // a priority tag: VID 0
            assertEquals(5, wire.flush());
            TestFrames.Collector in = new TestFrames.Collector(marker);
            awaitFrames(xdp, in, 5);
            assertEquals(List.of(new TestFrames.Received(0, 100, 0x2064, true), new TestFrames.Received(1, 100, -1, true),
                    new TestFrames.Received(2, 1500, 0x0fff, true), new TestFrames.Received(3, 100, s8021ad, true),
                    new TestFrames.Received(4, 60, 0, true)), in.frames);
            assertEquals(100 + 100 + 1500 + 100 + 60, xdp.rxBytes(), "bytes handed: without the tags");

            // out: AF_XDP inserts the tag, the kernel strips it for the wire's socket
            assertTrue(send(xdp, 100, 10, 0x2064));
            assertTrue(send(xdp, 100, 11, -1));
            assertTrue(send(xdp, 1500, 12, 0x0fff)); // 1518 bytes on the wire
            assertTrue(send(xdp, 100, 13, s8021ad));
            assertEquals(4, xdp.flush());
            TestFrames.Collector out = new TestFrames.Collector(marker);
            awaitFrames(wire, out, 4);
            assertEquals(List.of(new TestFrames.Received(10, 100, 0x2064, true), new TestFrames.Received(11, 100, -1, true),
                    new TestFrames.Received(12, 1500, 0x0fff, true), new TestFrames.Received(13, 100, s8021ad, true)),
                    out.frames);
            assertEquals(104 + 100 + 1504 + 104, xdp.txBytes(), "bytes on the wire include the tags");
        }
    }

    @Test
    void shouldOfferAFrameTheHandlerDidNotTakeAgainFirst() throws Exception {
        try (XdpSocket xdp = open(XdpSocket.Options.defaults());
             PacketSocket wire = wire(b)) {
            for (int i = 0; i < 5; i++) {
                assertTrue(send(wire, 100, i, i == 2 ? 0x0007 : -1)); // the refused one is tagged: its tag moves once
            }
            wire.flush();
            TestFrames.Collector c = new TestFrames.Collector(marker);
            int[] refusals = {3};
            NicSocket.FrameHandler choosy = (segment, offset, length, vlanTci, partial) -> {
                // refuse frame 2 three times, as a port whose receiver is busy would
                if (TestFrames.sequence(segment, offset, length, marker) == 2 && refusals[0]-- > 0) {
                    return false;
                }
                return c.onFrame(segment, offset, length, vlanTci, partial);
            };
            long deadline = System.nanoTime() + WAIT_NANOS;
            while (c.frames.size() < 5 && System.nanoTime() < deadline) {
                xdp.receive(choosy, 64);
            }
            assertEquals(List.of(0, 1, 2, 3, 4), sequences(c), "nothing skipped, nothing twice, in order");
            assertEquals(new TestFrames.Received(2, 100, 7, true), c.frames.get(2), "offered again as it was, tag apart");
            assertEquals(-1, refusals[0]);
        }
    }

    @Test
    void shouldLoseOnlyTheFrameOfAHandlerThatThrows() throws Exception {
        try (XdpSocket xdp = open(XdpSocket.Options.defaults());
             PacketSocket wire = wire(b)) {
            for (int i = 0; i < 4; i++) {
                assertTrue(send(wire, 100, i, -1));
            }
            wire.flush();
            TestFrames.Collector c = new TestFrames.Collector(marker);
            NicSocket.FrameHandler throwing = (segment, offset, length, vlanTci, partial) -> {
                if (TestFrames.sequence(segment, offset, length, marker) == 1) {
                    throw new IllegalStateException("handler failure");
                }
                return c.onFrame(segment, offset, length, vlanTci, partial);
            };
            long deadline = System.nanoTime() + WAIT_NANOS;
            while (c.frames.size() < 3 && System.nanoTime() < deadline) {
                try {
                    xdp.receive(throwing, 64);
                } catch (IllegalStateException expected) {
                    // frame 1 is gone, the rest come
                }
            }
            assertEquals(List.of(0, 2, 3), sequences(c));
        }
    }

    @Test
    void shouldRefuseAndCountFramesTooBigBothWays() throws Exception {
        net.ip("link", "set", a, "mtu", "3000");
        net.ip("link", "set", b, "mtu", "3000");
        XdpSocket.Options small = XdpSocket.Options.defaults().withFrameSize(2048);
        int max = small.maxRxFrame();
        assertEquals(1792, max);
        try (XdpSocket xdp = open(small);
             PacketSocket wire = wire(b)) {
            assertTrue(xdp.driverMode(), "a 3000-byte MTU still fits native XDP on veth");
            // out: a UMEM frame holds 2048 bytes, tag included
            assertFalse(send(xdp, 2049, 0, -1), "larger than a UMEM frame");
            assertFalse(send(xdp, 2046, 0, 0x0001), "fits, not with its tag");
            assertEquals(2, xdp.txTooBig());
            assertTrue(send(xdp, 2048, 1, -1));
            assertTrue(send(xdp, 2044, 2, 0x0001));
            assertEquals(2, xdp.flush());
            TestFrames.Collector out = new TestFrames.Collector(marker);
            awaitFrames(wire, out, 2);
            assertEquals(List.of(new TestFrames.Received(1, 2048, -1, true), new TestFrames.Received(2, 2044, 1, true)),
                    out.frames);

            // in: the kernel copies a frame behind 256 bytes of headroom; a longer one is dropped and counted
            assertTrue(send(wire, max, 3, -1));
            assertTrue(send(wire, max + 1, 4, -1));
            assertTrue(send(wire, max - 4, 5, 0x0009)); // max bytes with its tag: fits
            assertTrue(send(wire, max - 3, 6, 0x0009));
            assertTrue(send(wire, 64, 7, -1));
            assertEquals(5, wire.flush());
            TestFrames.Collector in = new TestFrames.Collector(marker);
            awaitFrames(xdp, in, 3);
            assertEquals(List.of(new TestFrames.Received(3, max, -1, true), new TestFrames.Received(5, max - 4, 9, true),
                    new TestFrames.Received(7, 64, -1, true)), in.frames, "the too big ones never handed, not truncated");
            xdp.pollKernelStats();
            assertEquals(2, xdp.rxTooBig());
            assertEquals(0, xdp.rxKernelDrops());
        }
    }

    @Test
    void shouldRefuseAFrameLongerThanTheMtu() throws Exception {
        try (XdpSocket xdp = open(XdpSocket.Options.defaults())) {
            assertEquals(1500, xdp.mtu());
            assertTrue(send(xdp, 1514, 0, -1));
            assertTrue(send(xdp, 1514, 1, 0x0001), "802.1Q tag on top of a full frame");
            assertFalse(send(xdp, 1515, 2, -1));
            assertFalse(send(xdp, 1514, 3, NicSocket.VLAN_8021AD | 1), "an S-tag counts against the MTU");
            assertEquals(2, xdp.txTooBig());
        }
    }

    @Test
    void shouldReportAFullTxRingWithoutBlocking() throws Exception {
        try (XdpSocket xdp = open(XdpSocket.Options.defaults().withRings(64, 64));
             PacketSocket wire = wire(b)) {
            assertEquals(64, xdp.txSlots());
            for (int i = 0; i < 64; i++) {
                assertTrue(send(xdp, 200, i, -1), "slot " + i);
            }
            long start = System.nanoTime();
            assertFalse(send(xdp, 200, 64, -1));
            assertFalse(send(xdp, 200, 64, -1));
            assertTrue(System.nanoTime() - start < TimeUnit.MILLISECONDS.toNanos(100), "refused at once");
            assertEquals(2, xdp.txRingFull());
            assertTrue(xdp.txPending());

            assertEquals(64, xdp.flush());
            assertFalse(xdp.txPending());
            long deadline = System.nanoTime() + WAIT_NANOS;
            boolean sent = false;
            while (!sent && System.nanoTime() < deadline) {
                sent = send(xdp, 200, 64, -1); // frames come back once the kernel completed them
            }
            assertTrue(sent);
            assertEquals(1, xdp.flush());
            TestFrames.Collector c = new TestFrames.Collector(marker);
            awaitFrames(wire, c, 65);
            assertEquals(65, c.frames.size());
            assertEquals(64, sequences(c).get(64));
        }
    }

    @Test
    void shouldDropQueuedFramesWhenTheInterfaceIsDownOrGone() throws Exception {
        try (XdpSocket xdp = open(XdpSocket.Options.defaults().withRings(64, 64));
             PacketSocket wire = wire(b)) {
            net.setDown(a);
            for (int i = 0; i < 3; i++) {
                assertTrue(send(xdp, 100, i, -1));
            }
            assertEquals(0, xdp.flush());
            assertFalse(xdp.txPending(), "nothing left to retry on a dead link");
            assertEquals(3, xdp.txErrors());
            assertEquals(Errno.ENETDOWN, xdp.lastTxErrno());

            net.setUp(a);
            for (int i = 3; i < 13; i++) {
                assertTrue(send(xdp, 100, i, -1));
            }
            assertEquals(10, xdp.flush(), "one flush: the kernel skips the dropped descriptors and sends the rest");
            // more than a ring's worth after the dropped ones: their slots came back as the kernel skipped them
            TestFrames.Collector c = new TestFrames.Collector(marker);
            int next = 13;
            long deadline = System.nanoTime() + WAIT_NANOS;
            while (next < 3 + 100 && System.nanoTime() < deadline) {
                while (next < 3 + 100 && send(xdp, 100, next, -1)) {
                    next++;
                }
                xdp.flush();
                wire.receive(c, 256);
            }
            awaitFrames(wire, c, 100);
            List<Integer> want = new ArrayList<>();
            for (int i = 3; i < 103; i++) {
                want.add(i);
            }
            assertEquals(want, sequences(c), "the link works again, the dropped frames stay dropped");
            assertEquals(100, xdp.txFrames());
            assertEquals(3, xdp.txErrors());

            net.delete(a);
            assertTrue(send(xdp, 100, 200, -1));
            assertEquals(0, xdp.flush());
            assertFalse(xdp.txPending());
            assertEquals(4, xdp.txErrors());
            assertEquals(Errno.ENXIO, xdp.lastTxErrno());
        }
    }

    @Test
    void shouldDetachTheProgramAndDropPromiscuityOnClose() throws Exception {
        Path flags = Path.of("/sys/class/net", a, "flags");
        int iffPromisc = 0x100;
        XdpSocket xdp = open(XdpSocket.Options.defaults().withPromiscuous(true));
        String attached = net.ip("link", "show", "dev", a).output();
        assertTrue(attached.contains("xdp"), "the program is attached: " + attached);
        assertTrue((Integer.decode(Files.readString(flags).strip()) & iffPromisc) != 0, "promiscuous");
        xdp.close();
        xdp.close(); // idempotent
        String shown = net.ip("link", "show", "dev", a).output();
        assertFalse(shown.contains("xdp"), "no program left: " + shown);
        assertEquals(0, Integer.decode(Files.readString(flags).strip()) & iffPromisc);
        // and the interface is free for the next one
        try (XdpSocket again = open(XdpSocket.Options.defaults())) {
            assertTrue(again.driverMode());
        }
    }

    @Test
    void shouldRefuseASecondSocketOnTheSameInterface() throws Exception {
        try (XdpSocket first = open(XdpSocket.Options.defaults())) {
            NativeException e = org.junit.jupiter.api.Assertions.assertThrows(NativeException.class,
                    () -> XdpSocket.open(a, XdpSocket.Options.defaults()));
            assertTrue(e.getMessage().contains("BPF_LINK_CREATE"), e.getMessage());
            assertTrue(first.driverMode());
        }
    }

    /** Which transport sits on the uplink's end of the pair in a measurement. */
    private NicSocket uplinkEnd(boolean xdp) throws NativeException {
        return xdp ? open(XdpSocket.Options.defaults().withSkbMode(Boolean.getBoolean("vnicd.xdp.skb"))
                .withRings(Integer.getInteger("vnicd.xdp.rxRing", 2048), Integer.getInteger("vnicd.xdp.txRing", 2048))
                .withFrameSize(Integer.getInteger("vnicd.xdp.frameSize", 4096)))
                : PacketSocket.open(a, PacketSocket.Options.defaults().withQdiscBypass(true));
    }

    /** Frames the peer's end received, as the kernel counts them (veth: every frame its peer transmitted). */
    private long peerReceived() throws Exception {
        return Long.parseLong(Files.readString(Path.of("/sys/class/net", b, "statistics", "rx_packets")).strip());
    }

    /** Out: the uplink's end sends count frames as fast as it can; the rate at which the peer received them. */
    private double measureOut(boolean xdp, int count, int length) throws Exception {
        try (NicSocket tx = uplinkEnd(xdp)) {
            TestFrames.write(buf, 0, length, marker, 0);
            long base = peerReceived();
            long start = System.nanoTime();
            int sent = 0;
            while (sent < count) {
                while (sent < count && tx.send(buf, 0, length, -1)) {
                    sent++;
                }
                tx.flush();
            }
            while (tx.txPending()) {
                tx.flush();
            }
            long deadline = System.nanoTime() + WAIT_NANOS;
            long got;
            while ((got = peerReceived() - base) < count && System.nanoTime() < deadline) {
                Thread.onSpinWait();
            }
            return got / ((System.nanoTime() - start) / 1e9);
        }
    }

    /** In: the peer's packet socket sends count frames, the uplink's end receives them in the same thread. */
    private double measureIn(boolean xdp, PacketSocket wire, int count, int length) throws Exception {
        try (NicSocket rx = uplinkEnd(xdp)) {
            NicSocket.FrameHandler sink = (segment, offset, len, vlanTci, partial) -> true; // the socket counts
            long base = rx.rxFrames();
            TestFrames.write(buf, 0, length, marker, 0);
            long start = System.nanoTime();
            long last = start;
            // sent until count arrived: a frame the receiver's ring had no room for costs time, not the run
            while (rx.rxFrames() - base < count && System.nanoTime() - last < WAIT_NANOS) {
                while (wire.send(buf, 0, length, -1)) {
                    Thread.onSpinWait();
                }
                wire.flush();
                if (rx.receive(sink, 1024) > 0) {
                    last = System.nanoTime();
                }
            }
            return (rx.rxFrames() - base) / ((System.nanoTime() - start) / 1e9);
        }
    }

    /**
     * Not a contract, a measurement: AF_PACKET (TPACKET_V3, qdisc bypass: the uplink's settings) against AF_XDP on the
     * same veth end, in interleaved pairs of fresh sockets (this machine drifts between fast and slow modes, and other
     * work may share its two cores), the median of each pair's ratio printed. Out: one thread sends as fast as it can,
     * the peer's kernel counts; in: the peer's packet socket sends and the socket under test receives, one thread.
     * -Dvnicd.xdp.skb=true measures generic (skb mode) XDP; -Dvnicd.xdp.rxRing, txRing and frameSize other
     * geometries; -Dvnicd.xdp.measureFrames and -Dvnicd.xdp.measurePairs the size of the runs.
     */
    @Test
    @Tag("slow") // about 20 s
    void shouldMeasureBothTransportsInInterleavedPairs() throws Exception {
        int count = Integer.getInteger("vnicd.xdp.measureFrames", 200_000);
        int pairs = Integer.getInteger("vnicd.xdp.measurePairs", 5);
        try (PacketSocket wire = wire(b)) {
            measureOut(true, count / 4, 64); // warm both up
            measureOut(false, count / 4, 64);
            measureIn(true, wire, count / 4, 64);
            measureIn(false, wire, count / 4, 64);
            for (int length : new int[] {64, 1500}) {
                for (String dir : List.of("out", "in")) {
                    double[] xdpRates = new double[pairs];
                    double[] pktRates = new double[pairs];
                    double[] ratios = new double[pairs];
                    for (int p = 0; p < pairs; p++) {
                        boolean xdpFirst = (p & 1) == 0;
                        for (boolean xdp : new boolean[] {xdpFirst, !xdpFirst}) {
                            double r = dir.equals("out") ? measureOut(xdp, count, length) : measureIn(xdp, wire, count, length);
                            if (xdp) {
                                xdpRates[p] = r;
                            } else {
                                pktRates[p] = r;
                            }
                        }
                        ratios[p] = xdpRates[p] / pktRates[p];
                    }
                    double[] sorted = ratios.clone();
                    Arrays.sort(sorted);
                    System.out.printf("%-3s %4d B: af_xdp %s Mpps, af_packet %s Mpps, ratio median %.2f (%d pairs of %d frames)%n",
                            dir, length, mpps(xdpRates), mpps(pktRates), sorted[pairs / 2], pairs, count);
                    assertTrue(sorted[pairs / 2] > 0);
                }
            }
        }
    }

    private static String mpps(double[] rates) {
        StringBuilder s = new StringBuilder();
        for (double r : rates) {
            s.append(s.isEmpty() ? "" : " ").append(String.format("%.2f", r / 1e6));
        }
        return s.toString();
    }

    @Test
    void shouldNotAllocateOnTheDataPath() throws Exception {
        var threads = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        try (XdpSocket xdp = open(XdpSocket.Options.defaults());
             PacketSocket wire = wire(b)) {
            long[] seen = new long[1];
            NicSocket.FrameHandler count = (segment, offset, length, vlanTci, partial) -> {
                seen[0] += length;
                return true;
            };
            TestFrames.write(buf, 0, 300, marker, 0);
            long[] windows = new long[12];
            for (int w = -20; w < windows.length; w++) {
                long before = threads.getCurrentThreadAllocatedBytes();
                for (int round = 0; round < 1_000; round++) {
                    for (int i = 0; i < 8; i++) {
                        xdp.send(buf, 0, 300, (i & 1) == 0 ? -1 : 7);
                        wire.send(buf, 0, 300, (i & 1) == 0 ? -1 : 7);
                    }
                    xdp.flush();
                    wire.flush();
                    xdp.receive(count, 64);
                    wire.receive(count, 64);
                    xdp.txFrames();
                    xdp.rxBytes();
                }
                if (w >= 0) {
                    windows[w] = threads.getCurrentThreadAllocatedBytes() - before;
                }
            }
            assertTrue(seen[0] > 0);
            assertTrue(xdp.rxFrames() > 0 && xdp.txFrames() > 0);
            assertEquals(0, Arrays.stream(windows).min().orElseThrow(),
                    "bytes allocated by 1000 rounds of 8 sends each way, flushes and receives: " + Arrays.toString(windows));
        }
    }
}

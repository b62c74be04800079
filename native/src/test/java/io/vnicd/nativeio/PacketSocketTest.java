package io.vnicd.nativeio;

import io.vnicd.testkit.TestNetwork;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** PacketSocket over a veth pair whose two ends are in this namespace (no addresses, IPv6 off: nothing else talks). */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class PacketSocketTest {
    private static final long WAIT_NANOS = TimeUnit.SECONDS.toNanos(5);

    private TestNetwork net;
    private String a;
    private String b;
    private final int marker = ThreadLocalRandom.current().nextInt();
    private final Arena arena = Arena.ofConfined();
    private final MemorySegment buf = arena.allocate(16 << 10);

    @BeforeEach
    void createVethPair() {
        net = TestNetwork.create("pkt");
        TestNetwork.VethPair pair = net.veth("pka", "pkb");
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

    private boolean send(PacketSocket tx, int length, int seq, int vlanTci) {
        TestFrames.write(buf, 0, length, marker, seq);
        return tx.send(buf, 0, length, vlanTci);
    }

    private static void awaitFrames(PacketSocket rx, TestFrames.Collector c, int want) {
        TestFrames.awaitFrames(rx, c, want, WAIT_NANOS);
    }

    private static List<Integer> sequences(TestFrames.Collector c) {
        return TestFrames.sequences(c);
    }

    @ParameterizedTest
    @ValueSource(ints = {64, 1500})
    void shouldDeliverManyRingsWorthOfFramesWholeAndInOrder(int length) throws Exception {
        int count = 20_000;
        try (PacketSocket tx = PacketSocket.open(a, PacketSocket.Options.defaults());
             PacketSocket rx = PacketSocket.open(b, PacketSocket.Options.defaults())) {
            TestFrames.Collector c = new TestFrames.Collector(marker);
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
            double seconds = (System.nanoTime() - start) / 1e9;
            System.out.printf("%d frames of %d B over a veth pair: %.3f s, %.0f frames/s (send+flush+receive, one thread)%n",
                    count, length, seconds, count / seconds);

            assertEquals(count, c.frames.size(), "frames received");
            for (int i = 0; i < count; i++) {
                TestFrames.Received r = c.frames.get(i);
                assertEquals(i, r.seq(), "frame in order");
                assertEquals(length, r.length(), "frame " + i + " whole");
                assertTrue(r.intact(), "frame " + i + " unchanged");
                assertEquals(-1, r.vlanTci(), "frame " + i + " untagged");
            }
            assertEquals(count, tx.txFrames());
            assertEquals((long) count * length, tx.txBytes());
            assertEquals(0, tx.txErrors() + tx.txTooBig());
            assertFalse(tx.txPending());
            rx.pollKernelStats();
            assertEquals(0, rx.rxKernelDrops(), "frames the kernel dropped for want of ring space");
            assertEquals(count + c.others, rx.rxFrames());
            assertTrue(rx.rxBytes() >= (long) count * length);
        }
    }

    @Test
    void shouldOfferAFrameTheHandlerDidNotTakeAgainFirst() throws Exception {
        try (PacketSocket tx = PacketSocket.open(a, PacketSocket.Options.defaults());
             PacketSocket rx = PacketSocket.open(b, PacketSocket.Options.defaults())) {
            for (int i = 0; i < 5; i++) {
                assertTrue(send(tx, 100, i, -1));
            }
            tx.flush();
            TestFrames.Collector c = new TestFrames.Collector(marker);
            int[] refusals = {3};
            PacketSocket.FrameHandler choosy = (segment, offset, length, vlanTci, partial) -> {
                // refuse frame 2 three times, as a port whose receiver is busy would
                if (TestFrames.sequence(segment, offset, length, marker) == 2 && refusals[0]-- > 0) {
                    return false;
                }
                return c.onFrame(segment, offset, length, vlanTci, partial);
            };
            long deadline = System.nanoTime() + WAIT_NANOS;
            while (c.frames.size() < 5 && System.nanoTime() < deadline) {
                rx.receive(choosy, 64);
            }
            assertEquals(List.of(0, 1, 2, 3, 4), sequences(c), "nothing skipped, nothing twice, in order");
            assertEquals(-1, refusals[0]);
        }
    }

    @Test
    void shouldCarryAVlanTagGivenToSendAsTheReceivedVlanTci() throws Exception {
        int s8021ad = PacketSocket.VLAN_8021AD | 0x0005;
        try (PacketSocket tx = PacketSocket.open(a, PacketSocket.Options.defaults());
             PacketSocket rx = PacketSocket.open(b, PacketSocket.Options.defaults())) {
            assertTrue(send(tx, 100, 0, 0x2064)); // PCP 1, VID 100
            assertTrue(send(tx, 100, 1, -1));
            assertTrue(send(tx, 1500, 2, 0x0fff)); // a full-size frame: tagged, 1518 bytes on the wire
            assertTrue(send(tx, 100, 3, s8021ad));
            assertEquals(4, tx.flush());
            TestFrames.Collector c = new TestFrames.Collector(marker);
            awaitFrames(rx, c, 4);

            assertEquals(List.of(new TestFrames.Received(0, 100, 0x2064, true), new TestFrames.Received(1, 100, -1, true),
                    new TestFrames.Received(2, 1500, 0x0fff, true), new TestFrames.Received(3, 100, s8021ad, true)), c.frames);
            assertEquals(100 + 4 + 100 + 1504 + 104, tx.txBytes(), "bytes on the wire include the tags");
        }
    }

    @Test
    void shouldRefuseAFrameLargerThanASlotAndSendTheNext() throws Exception {
        net.ip("link", "set", a, "mtu", "9000");
        net.ip("link", "set", b, "mtu", "9000");
        try (PacketSocket tx = PacketSocket.open(a, PacketSocket.Options.defaults());
             PacketSocket jumbo = PacketSocket.open(a, PacketSocket.Options.defaults()
                     .withTxFrames(PacketSocket.Options.JUMBO_TX_FRAME_SIZE, 64));
             PacketSocket rx = PacketSocket.open(b, PacketSocket.Options.defaults())) {
            int slot = 2048 - 48;
            assertFalse(send(tx, slot + 1, 0, -1), "larger than the slot");
            assertFalse(send(tx, slot - 3, 0, 0x0001), "fits the slot, not with its tag");
            assertEquals(2, tx.txTooBig());
            assertTrue(send(tx, slot, 1, -1));
            assertTrue(send(tx, 64, 2, -1));
            assertEquals(2, tx.flush());
            assertTrue(send(jumbo, 9014, 3, -1), "a 9000-byte MTU's frame");
            assertTrue(send(jumbo, 9014, 4, 0x0002), "with a tag");
            assertFalse(send(jumbo, 9015, 5, -1), "beyond the MTU");
            assertEquals(2, jumbo.flush());
            TestFrames.Collector c = new TestFrames.Collector(marker);
            awaitFrames(rx, c, 4);

            assertEquals(List.of(new TestFrames.Received(1, slot, -1, true), new TestFrames.Received(2, 64, -1, true),
                    new TestFrames.Received(3, 9014, -1, true), new TestFrames.Received(4, 9014, 2, true)), c.frames);
            assertEquals(0, tx.txErrors());
            assertEquals(1, jumbo.txTooBig());
        }
    }

    @Test
    void shouldDropAFrameTheKernelRefusesAndSendTheRestInOrder() throws Exception {
        net.ip("link", "set", a, "mtu", "9000");
        try (PacketSocket tx = PacketSocket.open(a, PacketSocket.Options.defaults());
             PacketSocket rx = PacketSocket.open(b, PacketSocket.Options.defaults())) {
            assertEquals(9000, tx.mtu());
            net.ip("link", "set", a, "mtu", "1500"); // behind the socket's back: it still holds frames to 9000
            assertTrue(send(tx, 100, 0, -1));
            assertTrue(send(tx, 1800, 1, -1)); // the kernel refuses it: its ring stops here
            assertTrue(send(tx, 100, 2, -1));
            assertTrue(send(tx, 1700, 3, -1)); // too long for the MTU read again: dropped with the first
            assertTrue(send(tx, 100, 4, -1));
            assertEquals(3, tx.flush());
            assertFalse(tx.txPending());
            TestFrames.Collector c = new TestFrames.Collector(marker);
            awaitFrames(rx, c, 3);

            assertEquals(List.of(0, 2, 4), sequences(c));
            assertEquals(2, tx.txErrors());
            assertEquals(Errno.EMSGSIZE, tx.lastTxErrno());
            assertEquals(1500, tx.mtu());
            assertFalse(send(tx, 1800, 5, -1), "now refused before it is queued");
            assertEquals(1, tx.txTooBig());
            assertTrue(send(tx, 100, 6, -1));
            assertEquals(1, tx.flush());
            awaitFrames(rx, c, 4);
            assertEquals(List.of(0, 2, 4, 6), sequences(c));
        }
    }

    @Test
    void shouldReportAFullTxRingWithoutBlocking() throws Exception {
        try (PacketSocket tx = PacketSocket.open(a, PacketSocket.Options.defaults().withTxFrames(2048, 64));
             PacketSocket rx = PacketSocket.open(b, PacketSocket.Options.defaults())) {
            assertEquals(64, tx.txSlots());
            for (int i = 0; i < 64; i++) {
                assertTrue(send(tx, 200, i, -1), "slot " + i);
            }
            long start = System.nanoTime();
            assertFalse(send(tx, 200, 64, -1));
            assertFalse(send(tx, 200, 64, -1));
            assertTrue(System.nanoTime() - start < TimeUnit.MILLISECONDS.toNanos(100), "refused at once");
            assertEquals(2, tx.txRingFull());
            assertTrue(tx.txPending());

            assertEquals(64, tx.flush());
            assertFalse(tx.txPending());
            assertTrue(send(tx, 200, 64, -1), "slots come back once the kernel sent them");
            assertEquals(1, tx.flush());
            TestFrames.Collector c = new TestFrames.Collector(marker);
            awaitFrames(rx, c, 65);
            assertEquals(65, c.frames.size());
            assertEquals(64, sequences(c).get(64));
        }
    }

    @Test
    void shouldNotReceiveFramesSentOnItsOwnInterface() throws Exception {
        try (PacketSocket ring = PacketSocket.open(a, PacketSocket.Options.defaults());
             PacketSocket other = PacketSocket.open(a, PacketSocket.Options.defaults());
             PacketSocket peer = PacketSocket.open(b, PacketSocket.Options.defaults())) {
            for (int i = 0; i < 10; i++) {
                assertTrue(send(ring, 100, i, -1));
                assertTrue(send(other, 100, 100 + i, -1));
            }
            assertEquals(10, ring.flush());
            assertEquals(10, other.flush());
            for (int i = 0; i < 5; i++) {
                assertTrue(send(peer, 100, 200 + i, -1));
            }
            assertEquals(5, peer.flush());

            TestFrames.Collector atPeer = new TestFrames.Collector(marker);
            awaitFrames(peer, atPeer, 20);
            TestFrames.Collector atRing = new TestFrames.Collector(marker);
            awaitFrames(ring, atRing, 5);
            TestFrames.Collector atOther = new TestFrames.Collector(marker);
            awaitFrames(other, atOther, 5);

            assertEquals(20, atPeer.frames.size(), "the peer gets what both sockets sent");
            assertEquals(List.of(200, 201, 202, 203, 204), sequences(atRing), "only the peer's frames, none sent on " + a);
            assertEquals(List.of(200, 201, 202, 203, 204), sequences(atOther));
        }
    }

    @Test
    void shouldDropQueuedFramesWhenTheInterfaceIsDownOrGone() throws Exception {
        try (PacketSocket tx = PacketSocket.open(a, PacketSocket.Options.defaults());
             PacketSocket rx = PacketSocket.open(b, PacketSocket.Options.defaults())) {
            net.setDown(a);
            assertEquals(Errno.ENETDOWN, tx.takeSocketError());
            assertEquals(0, tx.takeSocketError(), "reading clears it");
            for (int i = 0; i < 3; i++) {
                assertTrue(send(tx, 100, i, -1));
            }
            assertEquals(0, tx.flush());
            assertFalse(tx.txPending(), "nothing left to retry on a dead link");
            assertEquals(3, tx.txErrors());
            assertEquals(Errno.ENETDOWN, tx.lastTxErrno());

            net.setUp(a);
            assertTrue(send(tx, 100, 3, -1));
            assertEquals(1, tx.flush());
            TestFrames.Collector c = new TestFrames.Collector(marker);
            awaitFrames(rx, c, 1);
            assertEquals(List.of(3), sequences(c), "the link works again, the dropped frames stay dropped");

            net.delete(a);
            assertTrue(send(tx, 100, 4, -1));
            assertEquals(0, tx.flush());
            assertEquals(4, tx.txErrors());
            assertEquals(Errno.ENXIO, tx.lastTxErrno());
        }
    }

    @Test
    void shouldSetPromiscuousModeAndMembershipsAndDropThemOnClose() throws Exception {
        Path flags = Path.of("/sys/class/net", b, "flags");
        int iffPromisc = 0x100;
        long group = 0x01_00_5e_01_02_03L;
        try (PacketSocket rx = PacketSocket.open(b, PacketSocket.Options.defaults().withPromiscuous(true))) {
            assertTrue((Integer.decode(Files.readString(flags).strip()) & iffPromisc) != 0);
            rx.addMembership(group);
            rx.addMembership(0x02_00_00_00_00_77L);
            assertTrue(net.ip("maddr", "show", "dev", b).output().contains("01:00:5e:01:02:03"));
            rx.dropMembership(group);
            assertFalse(net.ip("maddr", "show", "dev", b).output().contains("01:00:5e:01:02:03"));
            rx.addMembership(group);
        }
        assertEquals(0, Integer.decode(Files.readString(flags).strip()) & iffPromisc);
        assertFalse(net.ip("maddr", "show", "dev", b).output().contains("01:00:5e:01:02:03"));
    }

    @Test
    void shouldNotAllocateOnTheDataPath() throws Exception {
        var threads = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        try (PacketSocket tx = PacketSocket.open(a, PacketSocket.Options.defaults());
             PacketSocket rx = PacketSocket.open(b, PacketSocket.Options.defaults())) {
            long[] seen = new long[1];
            PacketSocket.FrameHandler count = (segment, offset, length, vlanTci, partial) -> {
                seen[0] += length;
                return true;
            };
            TestFrames.write(buf, 0, 300, marker, 0);
            // Until the compiler is done (late, on a busy machine), interpreted and C1 code allocate a little: a real
            // allocation per call shows in every window, so the quietest window must be clean.
            long[] windows = new long[12];
            for (int w = -20; w < windows.length; w++) {
                long before = threads.getCurrentThreadAllocatedBytes();
                for (int round = 0; round < 1_000; round++) {
                    for (int i = 0; i < 8; i++) {
                        tx.send(buf, 0, 300, (i & 1) == 0 ? -1 : 7);
                    }
                    tx.flush();
                    rx.receive(count, 64);
                    tx.txFrames();
                    rx.rxBytes();
                }
                if (w >= 0) {
                    windows[w] = threads.getCurrentThreadAllocatedBytes() - before;
                }
            }
            assertTrue(seen[0] > 0);
            assertEquals(0, Arrays.stream(windows).min().orElseThrow(),
                    "bytes allocated by 1000 rounds of 8 sends, a flush and a receive: " + Arrays.toString(windows));
        }
    }

    /** Not a contract, a measurement: how long one frame waits in a half-filled block before the kernel retires it. */
    @Test
    void shouldDeliverALoneFrameWithinAFewMilliseconds() throws Exception {
        try (PacketSocket tx = PacketSocket.open(a, PacketSocket.Options.defaults());
             PacketSocket rx = PacketSocket.open(b, PacketSocket.Options.defaults())) {
            long[] micros = new long[30];
            TestFrames.Collector c = new TestFrames.Collector(marker);
            for (int i = 0; i < micros.length; i++) {
                long start = System.nanoTime();
                assertTrue(send(tx, 100, i, -1));
                assertEquals(1, tx.flush());
                awaitFrames(rx, c, i + 1);
                micros[i] = (System.nanoTime() - start) / 1000;
                assertEquals(i + 1, c.frames.size());
                Thread.sleep(ThreadLocalRandom.current().nextInt(1, 6)); // land anywhere in the kernel's timer period
            }
            long[] sorted = micros.clone();
            Arrays.sort(sorted);
            System.out.printf("lone frame, send to receive: median %d us, max %d us (block timeout %d ms, HZ-rounded)%n",
                    sorted[sorted.length / 2], sorted[sorted.length - 1], PacketSocket.RX_BLOCK_TIMEOUT_MS);
            assertTrue(sorted[sorted.length / 2] < 50_000, "median " + sorted[sorted.length / 2] + " us");
        }
    }
}

package io.vnicd.sriov.pf;

import io.vnicd.devmodel.classify.RuleSet;
import io.vnicd.devmodel.classify.RuleSpec;
import io.vnicd.nativeio.EventFd;
import io.vnicd.nativeio.LibC;
import io.vnicd.nativeio.NativeException;
import io.vnicd.virtio.testing.DriverQueue;
import io.vnicd.virtio.testing.TestDriver;
import io.vnicd.virtio.testing.TestGuest;
import io.vnicd.virtio.testing.VhostUserTestFrontend;
import io.vnicd.virtio.vhostuser.Request;
import io.vnicd.virtio.vhostuser.VhostUserEndpoint;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;

import static io.vnicd.virtio.queue.SplitRingLayout.F_INDIRECT;
import static io.vnicd.virtio.queue.SplitRingLayout.F_NEXT;
import static org.junit.jupiter.api.Assertions.*;

/**
 * Hostile frontends and guests against one VF of a PF (vf2), while two other VFs (vf0, vf1) switch. Each case
 * asserts the promise of isolation: the bystanders keep switching thousands of frames both ways while the
 * attack lasts, the attacked VF is refused or stopped (counted), and afterwards it serves a new frontend.
 */
class HostileFrontendTest {
    private static final long MAC0 = 0x02_00_00_00_00_20L;
    private static final long MAC1 = 0x02_00_00_00_00_21L;
    private static final long MAC2 = 0x02_00_00_00_00_22L;
    private static final Duration WAIT = Duration.ofSeconds(10);
    /** Frames each bystander sends the other while an attack lasts. */
    private static final int BYSTANDER_FRAMES = 2000;

    @TempDir
    Path dir;
    private PhysicalFunction pf;

    @BeforeEach
    void setUp() throws Exception {
        pf = new PhysicalFunction("pf-hostile");
        pf.addVirtualFunction("vf0", sock(0), VhostUserEndpoint.Mode.SERVER, 1, MAC0, Duration.ofMillis(100));
        pf.addVirtualFunction("vf1", sock(1), VhostUserEndpoint.Mode.SERVER, 1, MAC1, Duration.ofMillis(100));
        pf.addVirtualFunction("vf2", sock(2), VhostUserEndpoint.Mode.SERVER, 1, MAC2, Duration.ofMillis(100));
        pf.start();
    }

    @AfterEach
    void tearDown() {
        pf.close();
    }

    private Path sock(int vf) {
        return dir.resolve("vf" + vf + ".sock");
    }

    private VirtualFunction attacked() {
        return pf.virtualFunctions().get(2);
    }

    /** An attack in progress on vf2; closing it ends the attacker's connection. */
    @FunctionalInterface
    private interface Attack {
        AutoCloseable start() throws Exception;
    }

    /**
     * Starts the attack, checks that vf0 and vf1 keep switching while it lasts and that check (what the attack
     * did to vf2) holds, ends it, then connects a well-behaved guest to vf2 and switches frames with it.
     */
    private void underAttack(Attack attack, Runnable check) throws Exception {
        try (TestGuest g0 = TestGuest.connect(sock(0)); TestGuest g1 = TestGuest.connect(sock(1))) {
            Links.awaitUp(pf, 2);
            AutoCloseable running = attack.start();
            try {
                bystandersSwitch(g0, g1);
                check.run();
            } finally {
                running.close();
            }
            try (TestGuest fresh = TestGuest.connect(sock(2))) {
                awaitLink(attacked());
                byte[] in = TestGuest.frame(MAC2, MAC0, 200, 7);
                g0.send(in);
                assertArrayEquals(in, fresh.receive(WAIT), "the attacked VF serves a new frontend");
                byte[] out = TestGuest.frame(MAC1, MAC2, 300, 8);
                fresh.send(out);
                assertArrayEquals(out, g1.receive(WAIT));
                assertFalse(attacked().device().needsReset(), attacked().device().brokenQueues());
            }
            bystandersSwitch(g0, g1);
            assertEquals(0, pf.virtualFunctions().get(0).device().queueErrors());
            assertEquals(0, pf.virtualFunctions().get(1).device().queueErrors());
            assertEquals(0, pf.agent().failures() - expectedFailures, "data-path failures beyond the attacked VF's");
        }
    }

    /** Failures the data path is expected to have isolated (set by the cases that fault guest memory). */
    private long expectedFailures;

    private void bystandersSwitch(TestGuest g0, TestGuest g1) throws Exception {
        long start = System.nanoTime();
        for (int batch = 0; batch < BYSTANDER_FRAMES / 100; batch++) {
            for (int i = 0; i < 100; i++) {
                g0.send(TestGuest.frame(MAC1, MAC0, 64, i));
                g1.send(TestGuest.frame(MAC0, MAC1, 64, i));
            }
            for (int i = 0; i < 100; i++) {
                assertNotNull(g1.receive(WAIT), "vf1 stopped receiving in batch " + batch);
                assertNotNull(g0.receive(WAIT), "vf0 stopped receiving in batch " + batch);
            }
        }
        long millis = (System.nanoTime() - start) / 1_000_000;
        // Liveness with a margin for a loaded 2-core machine (an idle one takes well under a second).
        assertTrue(millis < 30_000, "bystanders needed " + millis + " ms for " + 2 * BYSTANDER_FRAMES + " frames");
    }

    private static void awaitLink(VirtualFunction vf) throws InterruptedException {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!vf.device().isLinkReady()) {
            assertTrue(System.nanoTime() < deadline, vf.name() + " never got its RX queue up");
            Thread.sleep(5);
        }
    }

    private static void await(String what, java.util.function.BooleanSupplier condition) {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!condition.getAsBoolean()) {
            assertTrue(System.nanoTime() < deadline, "timed out waiting: " + what);
            Thread.onSpinWait();
        }
    }

    /** A blocking eventfd (no O_NONBLOCK), as a frontend may legitimately pass. */
    private static EventFd blockingEventFd() throws NativeException {
        return EventFd.adopt(LibC.eventfd(0, LibC.EFD_CLOEXEC));
    }

    private static void clearNonBlocking(EventFd fd) throws NativeException {
        int flags = LibC.fcntl(fd.fd(), LibC.F_GETFL, 0, "F_GETFL");
        LibC.fcntl(fd.fd(), LibC.F_SETFL, flags & ~LibC.O_NONBLOCK, "F_SETFL");
    }

    @Test
    void aBlockingKickFdThatItsFrontendEmptiesDoesNotStopThePf() throws Exception {
        underAttack(() -> {
            TestGuest bad = TestGuest.connect(sock(2), q -> blockingEventFd(), q -> EventFd.create());
            // The frontend makes its kick fd blocking again after handing it over, and empties it itself.
            clearNonBlocking(bad.kick(1));
            AtomicBoolean stop = new AtomicBoolean();
            Thread kicker = Thread.ofPlatform().daemon().start(() -> {
                try {
                    while (!stop.get()) {
                        bad.kick(1).signal();
                        LibC.readWord(bad.kick(1).fd());
                    }
                } catch (NativeException ignored) {
                    // closed under us at the end
                }
            });
            return () -> {
                stop.set(true);
                bad.kick(1).signal(); // lets a read of the kicker return
                kicker.join(5000);
                bad.close();
            };
        }, () -> { });
    }

    @Test
    void aBlockingCallFdWhoseCounterIsFullDoesNotStopThePf() throws Exception {
        underAttack(() -> {
            TestGuest bad = TestGuest.connect(sock(2), q -> EventFd.create(), q -> {
                EventFd call = blockingEventFd();
                LibC.writeWord(call.fd(), 0xffff_ffff_ffff_fffeL); // the largest count: one more write blocks
                return call;
            });
            // Completing its frames makes the data path signal the full call fd.
            for (int i = 0; i < 300; i++) {
                bad.send(TestGuest.frame(MAC2, MAC2, 64, i));
            }
            return bad;
        }, () -> assertEquals(300, attacked().device().queuePair(0).txFrames(), "the frames were still taken"));
    }

    @Test
    void aCallFdMadeBlockingAgainAndFilledByItsFrontendIsReleasedAndItsQueueStopped() throws Exception {
        underAttack(() -> {
            EventFd[] calls = new EventFd[2];
            TestGuest bad = TestGuest.connect(sock(2), q -> EventFd.create(), q -> calls[q] = blockingEventFd());
            // After handing it over (vnicd made it non-blocking), the frontend makes it blocking again and fills it.
            clearNonBlocking(calls[1]);
            LibC.writeWord(calls[1].fd(), 0xffff_ffff_ffff_fffeL);
            bad.kick(1).signal();
            bad.txQueue().addBuffer(bad.txSlotGpa(0), 12 + 60, false);
            bad.kick(1).signal();
            await("the blocked write is released", () -> pf.agent().rescuedWrites() == 1);
            return bad;
        }, () -> {
            await("the queue stopped", () -> attacked().device().needsReset());
            assertTrue(attacked().device().brokenQueues().contains("blocked the data path"), attacked().device().brokenQueues());
        });
    }

    @Test
    void kickAndCallFdsThatAreNotEventfdsAreRefused() throws Exception {
        underAttack(() -> {
            // A memfd as kick fd, a socket as call fd: each SET_VRING_KICK/CALL is refused, no queue starts.
            return TestGuest.connect(sock(2), q -> EventFd.adopt(LibC.memfdCreate("not-an-eventfd", LibC.MFD_CLOEXEC)),
                    q -> EventFd.adopt(LibC.socket(1 /* AF_UNIX */, 1 /* SOCK_STREAM */ | LibC.O_CLOEXEC, 0)));
        }, () -> assertFalse(attacked().device().isLinkReady(), "no RX queue started on a refused kick fd"));
        assertTrue(attacked().endpoint().refusedMessages() >= 4,
                "refused " + attacked().endpoint().refusedMessages() + " messages");
    }

    @Test
    void moreThan32FdsDropTheConnectionAndLeakNone() throws Exception {
        long before = openFds();
        underAttack(() -> {
            VhostUserTestFrontend fe = VhostUserTestFrontend.connect(sock(2), WAIT);
            fe.handshake();
            EventFd[] fds = new EventFd[33];
            int[] raw = new int[fds.length];
            for (int i = 0; i < fds.length; i++) {
                fds[i] = EventFd.create();
                raw[i] = fds[i].fd();
            }
            sendWithFds(fe.socket().fd(), Request.SET_VRING_CALL.code, raw);
            boolean closed;
            try {
                closed = fe.isClosedByPeer();
            } catch (NativeException e) {
                closed = e.getMessage().contains("ECONNRESET"); // closed with our message unread: a reset
            }
            assertTrue(closed, "a message with more descriptors than the protocol allows ends the connection");
            for (EventFd fd : fds) {
                fd.close();
            }
            return fe;
        }, () -> { });
        // Guests and sockets of the test are closed again: no descriptor of the 33 stays open in vnicd.
        // (the endpoint thread closes them as it drops the connection: allow it a moment)
        long deadline = System.nanoTime() + WAIT.toNanos();
        long after;
        while ((after = openFds()) > before + 2 && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertTrue(after <= before + 2, "descriptors open: " + before + " before, " + after + " after");
    }

    /**
     * Sends a vhost-user header (8-byte body of zeros) with fds in one SCM_RIGHTS message, bypassing UnixSocket's
     * own limit of 32. struct msghdr and struct cmsghdr as on x86_64.
     */
    private static void sendWithFds(int socket, int request, int[] fds) throws NativeException {
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            MemorySegment body = arena.allocate(20, 8);
            body.set(ValueLayout.JAVA_INT, 0, request);
            body.set(ValueLayout.JAVA_INT, 4, 1);
            body.set(ValueLayout.JAVA_INT, 8, 8);
            MemorySegment iov = arena.allocate(16, 8);
            iov.set(ValueLayout.ADDRESS, 0, body);
            iov.set(ValueLayout.JAVA_LONG, 8, 20);
            long cmsgLen = 16 + 4L * fds.length;
            MemorySegment control = arena.allocate((cmsgLen + 7) & ~7, 8);
            control.set(ValueLayout.JAVA_LONG, 0, cmsgLen);
            control.set(ValueLayout.JAVA_INT, 8, 1); // SOL_SOCKET
            control.set(ValueLayout.JAVA_INT, 12, 1); // SCM_RIGHTS
            for (int i = 0; i < fds.length; i++) {
                control.set(ValueLayout.JAVA_INT, 16 + 4L * i, fds[i]);
            }
            MemorySegment msg = arena.allocate(56, 8);
            msg.set(ValueLayout.ADDRESS, 16, iov);
            msg.set(ValueLayout.JAVA_LONG, 24, 1);
            msg.set(ValueLayout.ADDRESS, 32, control);
            msg.set(ValueLayout.JAVA_LONG, 40, control.byteSize());
            assertEquals(20, LibC.sendmsg(socket, msg, 0));
        }
    }

    private static long openFds() throws Exception {
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            return s.count();
        }
    }

    @Test
    void overlappingMemoryRegionsAreRefused() throws Exception {
        underAttack(() -> {
            VhostUserTestFrontend fe = VhostUserTestFrontend.connect(sock(2), WAIT);
            TestDriver a = new TestDriver(1 << 20);
            TestDriver b = new TestDriver(1 << 20);
            fe.handshake();
            boolean ok = fe.setMemTable(new long[][] {{0x10_0000L, 1 << 20, 0x7000_0000_0000L, 0},
                    {0x18_0000L, 1 << 20, 0x7100_0000_0000L, 0}}, new int[] {a.sharedMemory().fd(), b.sharedMemory().fd()});
            assertFalse(ok, "regions overlapping in guest physical memory are refused");
            return () -> {
                fe.close();
                a.close();
                b.close();
            };
        }, () -> { });
    }

    @Test
    void misalignedRingsAreRefused() throws Exception {
        underAttack(() -> {
            VhostUserTestFrontend fe = VhostUserTestFrontend.connect(sock(2), WAIT);
            TestDriver d = new TestDriver(1 << 20);
            fe.handshake();
            assertTrue(fe.setMemTable(new long[][] {d.region()}, new int[] {d.sharedMemory().fd()}));
            DriverQueue q = d.queue(256);
            EventFd kick = EventFd.create();
            fe.setVringNum(1, 256);
            fe.setVringAddr(1, q.descUser() + 8, q.usedUser(), q.availUser());
            assertFalse(fe.setVringKick(1, kick), "a descriptor table that is not 16-byte aligned is refused");
            return () -> {
                fe.close();
                kick.close();
                d.close();
            };
        }, () -> { });
    }

    /** A TX chain the attacker writes into its own ring, and what vnicd must say of it. */
    private void hostileChain(java.util.function.Consumer<TestGuest> write, String reason) throws Exception {
        underAttack(() -> {
            TestGuest bad = TestGuest.connect(sock(2));
            write.accept(bad);
            bad.kick(1).signal();
            await("the hostile chain is seen", () -> attacked().device().needsReset());
            return bad;
        }, () -> assertTrue(attacked().device().brokenQueues().contains(reason), attacked().device().brokenQueues()));
    }

    @Test
    void anIndirectDescriptorFlaggedNextStopsOnlyItsQueue() throws Exception {
        hostileChain(bad -> {
            DriverQueue tx = bad.txQueue();
            long table = bad.txSlotGpa(10);
            tx.writeDescriptor(5, table, 32, F_INDIRECT | F_NEXT, 6);
            tx.makeAvailable(5);
        }, "indirect descriptor also flagged NEXT");
    }

    @Test
    void anIndirectTableWhoseLengthIsNotAMultipleOf16StopsOnlyItsQueue() throws Exception {
        hostileChain(bad -> {
            bad.txQueue().writeDescriptor(5, bad.txSlotGpa(10), 40, F_INDIRECT, 0);
            bad.txQueue().makeAvailable(5);
        }, "indirect table of 40 bytes");
    }

    @Test
    void anIndirectTableOutsideGuestMemoryStopsOnlyItsQueue() throws Exception {
        hostileChain(bad -> {
            bad.txQueue().writeDescriptor(5, 0x7fff_0000_0000L, 64, F_INDIRECT, 0);
            bad.txQueue().makeAvailable(5);
        }, "is outside guest memory");
    }

    @Test
    void aNextBeyondAnIndirectTableStopsOnlyItsQueue() throws Exception {
        hostileChain(bad -> {
            long table = bad.txSlotGpa(10);
            MemorySegment t = bad.driver().at(table, 32);
            DriverQueue.writeDescriptor(t, 0, bad.txSlotGpa(11), 100, F_NEXT, 5); // next = 5 in a table of 2
            DriverQueue.writeDescriptor(t, 1, bad.txSlotGpa(12), 100, 0, 0);
            bad.txQueue().writeDescriptor(5, table, 32, F_INDIRECT, 0);
            bad.txQueue().makeAvailable(5);
        }, "beyond its table of 2");
    }

    @Test
    void indicesWrapAroundWithoutLosingAFrame() throws Exception {
        underAttack(() -> {
            TestGuest g = TestGuest.connect(sock(2));
            awaitLink(attacked());
            // More chains than a 16-bit index counts: avail and used indices wrap; every frame must still pass.
            long before = attacked().device().queuePair(0).txFrames();
            for (int i = 0; i < 70_000; i++) {
                g.send(TestGuest.frame(MAC2, MAC2, 60, i));
            }
            await("70000 frames taken", () -> attacked().device().queuePair(0).txFrames() - before == 70_000);
            return g;
        }, () -> assertFalse(attacked().device().needsReset(), attacked().device().brokenQueues()));
    }

    @Test
    void aMemfdShrunkUnderItsMappingStopsOnlyItsVf() throws Exception {
        expectedFailures = 1;
        underAttack(() -> {
            TestGuest bad = TestGuest.connect(sock(2));
            awaitLink(attacked());
            // The frontend truncates its guest memory after SET_MEM_TABLE (this test must not touch it after that).
            LibC.ftruncate(bad.driver().sharedMemory().fd(), 4096);
            bad.kick(1).signal();
            return bad;
        }, () -> {
            await("the fault is isolated", () -> attacked().device().needsReset());
            assertTrue(attacked().device().brokenQueues().contains("data path failure"), attacked().device().brokenQueues());
        });
    }

    @Test
    void aFrameRewrittenWhileItIsClassifiedIsJudgedAsDelivered() throws Exception {
        pf.installRules(List.of(), List.of(new RuleSpec("no-9999", RuleSet.ROOT, 1,
                Map.of("proto", "udp", "dst-port", "9999"), "drop")));
        int[] seen9999 = new int[1];
        int[] received = new int[1];
        try (TestGuest g0 = TestGuest.connect(sock(0)); TestGuest bad = TestGuest.connect(sock(2))) {
            Links.awaitUp(pf, 1);
            awaitLink(attacked());
            // A vCPU of the sender flips the UDP destination port of every TX slot between 80 and 9999.
            AtomicBoolean stop = new AtomicBoolean();
            Thread flipper = Thread.ofPlatform().daemon().start(() -> {
                short port = 80;
                while (!stop.get()) {
                    port = port == 80 ? (short) 9999 : 80;
                    for (int i = 0; i < TestGuest.QUEUE_SIZE; i++) {
                        bad.driver().at(bad.txSlotGpa(i) + 12 + 36, 2)
                                .set(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(java.nio.ByteOrder.BIG_ENDIAN), 0, port);
                    }
                }
            });
            try {
                for (int i = 0; i < 20_000; i++) {
                    bad.send(udp(MAC0, MAC2, 80));
                    drain(g0, Duration.ZERO, received, seen9999);
                }
            } finally {
                stop.set(true);
                flipper.join(5000);
            }
            drain(g0, Duration.ofMillis(200), received, seen9999);
        }
        assertTrue(pf.ruleDrops() > 0, "the race was run: some frames were dropped by the rule");
        assertTrue(received[0] > 0, "and some were delivered");
        assertEquals(0, seen9999[0], "no frame the rule drops was delivered (of " + received[0] + ")");
    }

    /** Takes every frame g has received (waiting up to wait for each), counting them and those to UDP port 9999. */
    private static void drain(TestGuest g, Duration wait, int[] received, int[] seen9999) throws NativeException {
        byte[] f;
        while ((f = g.receive(wait)) != null) {
            received[0]++;
            if (((f[36] & 0xff) << 8 | (f[37] & 0xff)) == 9999) {
                seen9999[0]++;
            }
        }
    }

    /** An Ethernet/IPv4/UDP frame of 64 bytes to dstPort. */
    private static byte[] udp(long dst, long src, int dstPort) {
        byte[] f = TestGuest.frame(dst, src, 64, 0);
        java.util.Arrays.fill(f, 14, 42, (byte) 0);
        f[14] = 0x45;
        f[17] = 50; // total length: 20 + 8 + 22
        f[22] = 64; // TTL
        f[23] = 17; // UDP
        for (int i = 0; i < 8; i++) {
            f[26 + i] = (byte) (10 + i % 4); // addresses 10.11.12.13
        }
        f[34] = 0x30;
        f[35] = 0x39;
        f[36] = (byte) (dstPort >> 8);
        f[37] = (byte) dstPort;
        f[38] = 0;
        f[39] = 30;
        f[40] = 0;
        f[41] = 0;
        return f;
    }
}

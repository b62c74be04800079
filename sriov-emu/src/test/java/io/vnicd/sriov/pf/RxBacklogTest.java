package io.vnicd.sriov.pf;

import io.vnicd.devmodel.numa.AllocationPolicy;
import io.vnicd.devmodel.numa.Topology;
import io.vnicd.devmodel.port.PortCounter;
import io.vnicd.virtio.testing.TestGuest;
import io.vnicd.virtio.vhostuser.VhostUserEndpoint;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.*;

/**
 * A receiver that is slow to post RX buffers: frames beyond its ring wait in the PF's backlog (its quota in
 * the PF's pool) and arrive in order once it posts buffers; beyond the quota the sender waits (US8392565), bounded,
 * and what waited too long is dropped and counted.
 */
class RxBacklogTest {
    private static final long MAC0 = 0x02_00_00_00_00_30L;
    private static final long MAC1 = 0x02_00_00_00_00_31L;
    private static final int RING = TestGuest.QUEUE_SIZE - 1;
    private static final int QUOTA_FRAMES = 64;

    @TempDir
    Path dir;
    private PhysicalFunction pf;

    @BeforeEach
    void setUp() throws Exception {
        pf = new PhysicalFunction("pf-backlog");
        pf.addVirtualFunction("vf0", dir.resolve("vf0.sock"), VhostUserEndpoint.Mode.SERVER, 1, MAC0, Duration.ofMillis(100));
        pf.addVirtualFunction("vf1", dir.resolve("vf1.sock"), VhostUserEndpoint.Mode.SERVER, 1, MAC1, Duration.ofMillis(100));
        pf.setRxQuota(1, QUOTA_FRAMES * PhysicalFunction.RX_BUFFER);
        pf.start();
    }

    @AfterEach
    void tearDown() {
        pf.close();
    }

    @Test
    void shouldHoldFramesForASlowReceiverAndDeliverThemInOrder() throws Exception {
        try (TestGuest sender = TestGuest.connect(dir.resolve("vf0.sock")); TestGuest receiver = TestGuest.connect(dir.resolve("vf1.sock"))) {
            Links.awaitUp(pf, 2);
            int total = RING + 40;
            for (int i = 0; i < total; i++) {
                sender.send(TestGuest.frame(MAC1, MAC0, 60 + i % 200, i));
            }
            awaitHeld(40);
            assertEquals(40, pf.backlog(1).depth(), () -> "the frames beyond the receiver's ring wait in its backlog: " + pf.backlog(1) + " rx=" + pf.virtualFunctions().get(1).device().queuePair(0).rxFrames() + " tx=" + pf.virtualFunctions().get(0).device().queuePair(0).txFrames() + " drops=" + pf.vswitch().counters(1).get(PortCounter.OUT_DROPS) + " nobuf=" + pf.virtualFunctions().get(1).device().queuePair(0).counter(io.vnicd.virtio.net.NetQueuePair.Counter.RX_NO_BUFFERS));
            for (int i = 0; i < total; i++) {
                byte[] got = receiver.receive(Duration.ofSeconds(10));
                assertArrayEquals(TestGuest.frame(MAC1, MAC0, 60 + i % 200, i), got, "frame " + i + " in order");
            }
            PhysicalFunction.BacklogStatus b = pf.backlog(1);
            assertEquals(40, b.delivered());
            assertEquals(0, b.overQuota());
            assertEquals(0, b.bytesInUse(), "every held buffer went back to the pool");
            assertEquals(0, pf.vswitch().counters(1).get(PortCounter.OUT_DROPS));
        }
    }

    @Test
    void shouldTakeBacklogBuffersFromTheNodesThePolicyPicks() throws Exception {
        pf.close();
        pf = new PhysicalFunction("pf-numa");
        pf.addVirtualFunction("vf0", dir.resolve("n0.sock"), VhostUserEndpoint.Mode.SERVER, 1, MAC0, Duration.ofMillis(100));
        pf.addVirtualFunction("vf1", dir.resolve("n1.sock"), VhostUserEndpoint.Mode.SERVER, 1, MAC1, Duration.ofMillis(100));
        // A described two-node machine on this one-node box; buffers interleaved over both nodes' pools.
        pf.setPlacement(Topology.parse("0:0;1:1"), AllocationPolicy.INTERLEAVE, 1);
        pf.start();
        try (TestGuest sender = TestGuest.connect(dir.resolve("n0.sock")); TestGuest receiver = TestGuest.connect(dir.resolve("n1.sock"))) {
            Links.awaitUp(pf, 2);
            int total = RING + 40;
            for (int i = 0; i < total; i++) {
                sender.send(TestGuest.frame(MAC1, MAC0, 64, i));
            }
            awaitHeld(40);
            assertEquals(20, pf.placement().chosen(0));
            assertEquals(20, pf.placement().chosen(1));
            for (int i = 0; i < total; i++) {
                assertArrayEquals(TestGuest.frame(MAC1, MAC0, 64, i), receiver.receive(Duration.ofSeconds(10)),
                        "frame " + i + " in order across the two pools");
            }
            assertEquals(0, pf.backlog(1).bytesInUse());
            assertEquals(0, pf.poolBinding()[0], "node 0's pool is bound to node 0 (mbind)");
            assertEquals(-1, pf.poolBinding()[1], "this machine has no node 1: the kernel refused, the pool works unbound");
        }
    }

    @Test
    void shouldMakeTheSenderWaitWhileTheReceiversQuotaIsFullAndLoseNothing() throws Exception {
        pf.setMaxQuotaWait(Duration.ofSeconds(30));
        try (TestGuest sender = TestGuest.connect(dir.resolve("vf0.sock")); TestGuest receiver = TestGuest.connect(dir.resolve("vf1.sock"))) {
            Links.awaitUp(pf, 2);
            int total = RING + QUOTA_FRAMES + 100;
            Thread feeder = Thread.ofPlatform().start(() -> {
                try {
                    for (int i = 0; i < total; i++) {
                        sender.send(TestGuest.frame(MAC1, MAC0, 64, i));
                    }
                } catch (io.vnicd.nativeio.NativeException e) {
                    throw new IllegalStateException(e);
                }
            });
            // The receiver posts nothing new: its ring and its quota fill, then the sender waits.
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (pf.vswitch().counters(1).get(PortCounter.WAITS) == 0 && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertTrue(pf.vswitch().counters(1).get(PortCounter.WAITS) > 0, "the sender waits for vf1's quota");
            Thread.sleep(300);
            PhysicalFunction.BacklogStatus b = pf.backlog(1);
            assertEquals((long) QUOTA_FRAMES * PhysicalFunction.RX_BUFFER, b.bytesInUse(), "the quota is full, never more");
            assertTrue(pf.virtualFunctions().get(0).device().queuePair(0).txFrames() < total,
                    "frames beyond the quota stay in the sender's queue");
            for (int i = 0; i < total; i++) {
                assertArrayEquals(TestGuest.frame(MAC1, MAC0, 64, i), receiver.receive(Duration.ofSeconds(10)),
                        "frame " + i + ": everything arrives, in order, once the receiver takes it");
            }
            feeder.join(10_000);
            assertEquals(0, pf.vswitch().counters(1).get(PortCounter.WAIT_DROPS));
            assertEquals(0, pf.vswitch().counters(1).get(PortCounter.OUT_DROPS));
            assertEquals(total, pf.virtualFunctions().get(0).device().queuePair(0).txFrames(), "each frame counted once");
        }
    }

    @Test
    void shouldDropAndCountWhatWaitedLongerThanTheBound() throws Exception {
        pf.setMaxQuotaWait(Duration.ofMillis(20));
        try (TestGuest sender = TestGuest.connect(dir.resolve("vf0.sock")); TestGuest receiver = TestGuest.connect(dir.resolve("vf1.sock"))) {
            Links.awaitUp(pf, 2);
            int total = RING + QUOTA_FRAMES + 25;
            for (int i = 0; i < total; i++) {
                sender.send(TestGuest.frame(MAC1, MAC0, 64, i));
            }
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (pf.vswitch().counters(1).get(PortCounter.WAIT_DROPS) < 25 && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertEquals(25, pf.vswitch().counters(1).get(PortCounter.WAIT_DROPS),
                    "frames beyond the quota wait the bound, then are dropped and counted");
            assertEquals(25, pf.counters().get(PfCounter.WAIT_DROPS));
            assertEquals((long) QUOTA_FRAMES * PhysicalFunction.RX_BUFFER, pf.backlog(1).peakBytes(), "never above the quota");
            int received = 0;
            while (receiver.receive(Duration.ofMillis(500)) != null) {
                received++;
            }
            assertEquals(RING + QUOTA_FRAMES, received, "everything within the ring and the quota arrived");
        }
    }

    private void awaitHeld(int n) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (pf.backlog(1).held() < n && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
    }

}

package io.vnicd.vmm.daemon;

import io.vnicd.virtio.testing.TestGuest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * vnicd embedded in a JVM VM manager, as the README shows it: a daemon built in-process, a VF added for a new guest,
 * its events (connected, gone, removed) heard through a subscription, its counters read.
 */
class EmbeddingApiTest {
    private static final long MAC0 = 0x5254_0000_0c01L;
    private static final long MAC1 = 0x5254_0000_0c02L;

    @TempDir
    Path dir;

    private static <T extends VnicdEvent> T next(LinkedBlockingQueue<VnicdEvent> q, Class<T> type) throws InterruptedException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (System.nanoTime() < deadline) {
            VnicdEvent e = q.poll(100, TimeUnit.MILLISECONDS);
            if (type.isInstance(e)) {
                return type.cast(e);
            }
        }
        throw new AssertionError("no " + type.getSimpleName() + " within 10 s");
    }

    @Test
    void shouldGiveAGuestAVfAndReportItsEventsAndCounters() throws Exception {
        VnicdConfig config = new VnicdConfig(null, null, List.of(new VnicdConfig.PfConfig("pf0",
                List.of(new VnicdConfig.VfConfig("vf0", dir.resolve("vf0.sock").toString(), "server", 1, null)))));
        LinkedBlockingQueue<VnicdEvent> events = new LinkedBlockingQueue<>();
        try (Vnicd vnicd = new Vnicd(config.validate()).start()) {
            AutoCloseable subscription = vnicd.subscribe(events::add);
            TestGuest g0 = TestGuest.connect(dir.resolve("vf0.sock"));
            VnicdEvent.FrontendConnected c0 = next(events, VnicdEvent.FrontendConnected.class);
            assertEquals("vf0", c0.vf());

            vnicd.addVirtualFunction("pf0", new VnicdConfig.VfConfig("vf1", dir.resolve("vf1.sock").toString(), "server", 1, null));
            assertEquals("vf1", next(events, VnicdEvent.VfAdded.class).vf());
            try (TestGuest g1 = TestGuest.connect(dir.resolve("vf1.sock"))) {
                assertEquals("vf1", next(events, VnicdEvent.FrontendConnected.class).vf());
                g1.send(TestGuest.frame(MAC0, MAC1, 60, 0));
                assertNotNull(g0.receive(Duration.ofSeconds(5)));
                for (int i = 0; i < 10; i++) {
                    g0.send(TestGuest.frame(MAC1, MAC0, 100, i));
                    assertNotNull(g1.receive(Duration.ofSeconds(5)));
                }
                Map<String, Long> counters = vnicd.counters("pf0", "vf1");
                assertEquals(10L, counters.get("rxFrames"), counters.toString());
                assertEquals(1L, counters.get("txFrames"), counters.toString());
                assertTrue(counters.containsKey("port.outDrops"), counters.toString());
            }
            VnicdEvent.FrontendGone gone = next(events, VnicdEvent.FrontendGone.class);
            assertEquals("vf1", gone.vf());

            vnicd.removeVirtualFunction("pf0", "vf1");
            assertEquals("vf1", next(events, VnicdEvent.VfRemoved.class).vf());
            subscription.close();
            vnicd.physicalFunction("pf0").setLinkState("vf0", io.vnicd.sriov.pf.PhysicalFunction.LinkState.DISABLE);
            Thread.sleep(300);
            assertTrue(events.stream().noneMatch(e -> e instanceof VnicdEvent.FrontendGone g && g.vf().equals("vf0")),
                    "nothing after the subscription was closed: " + events);
            assertInstanceOf(VnicdEvent.class, c0);
            g0.close();
        }
    }
}

package io.vnicd.sriov.pf;

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
 * A PF with three VFs, each driven by a Java test guest over its vhost-user socket: frames are switched
 * between VFs, and a guest that writes hostile rings stops only its own queue.
 */
class PhysicalFunctionTest {
    private static final long MAC0 = 0x02_00_00_00_00_10L;
    private static final long MAC1 = 0x02_00_00_00_00_11L;
    private static final long MAC2 = 0x02_00_00_00_00_12L;
    private static final Duration WAIT = Duration.ofSeconds(10);

    @TempDir
    Path dir;
    private PhysicalFunction pf;

    @BeforeEach
    void setUp() throws Exception {
        pf = new PhysicalFunction("pf-test");
        pf.addVirtualFunction("vf0", dir.resolve("vf0.sock"), VhostUserEndpoint.Mode.SERVER, 1, MAC0, Duration.ofMillis(100));
        pf.addVirtualFunction("vf1", dir.resolve("vf1.sock"), VhostUserEndpoint.Mode.SERVER, 1, -1, Duration.ofMillis(100));
        pf.addVirtualFunction("vf2", dir.resolve("vf2.sock"), VhostUserEndpoint.Mode.SERVER, 1, -1, Duration.ofMillis(100));
        pf.start();
    }

    @AfterEach
    void tearDown() {
        pf.close();
    }

    @Test
    void shouldFloodUnknownDestinationsThenSwitchLearnedOnes() throws Exception {
        try (TestGuest g0 = TestGuest.connect(dir.resolve("vf0.sock"));
             TestGuest g1 = TestGuest.connect(dir.resolve("vf1.sock"));
             TestGuest g2 = TestGuest.connect(dir.resolve("vf2.sock"))) {
            Links.awaitUp(pf, 3);
            // vf1 to an unknown address: flooded to vf0 and vf2.
            byte[] hello = TestGuest.frame(0x02_00_00_00_00_99L, MAC1, 60, 1);
            g1.send(hello);
            assertArrayEquals(hello, g0.receive(WAIT));
            assertArrayEquals(hello, g2.receive(WAIT));
            // vf0 answers vf1, whose address was learned: only vf1 gets it, in full at 1514 bytes.
            byte[] answer = TestGuest.frame(MAC1, MAC0, 1514, 2);
            g0.send(answer);
            assertArrayEquals(answer, g1.receive(WAIT));
            assertNull(g2.receive(Duration.ofMillis(300)), "a learned destination is not flooded");
            // vf0's address is pinned to it (set administratively): vf2 reaches it directly.
            byte[] toPinned = TestGuest.frame(MAC0, MAC2, 100, 3);
            g2.send(toPinned);
            assertArrayEquals(toPinned, g0.receive(WAIT));
            assertNull(g1.receive(Duration.ofMillis(300)));
            io.vnicd.devmodel.counter.CounterBlock c1 = pf.vswitch().counters(1);
            assertEquals(1, c1.get(PortCounter.IN_FRAMES));
            assertEquals(1, c1.get(PortCounter.OUT_FRAMES));
            assertEquals(1, c1.get(PortCounter.FLOODED));
        }
    }

    @Test
    void shouldStopOnlyTheHostileGuestsQueue() throws Exception {
        try (TestGuest g0 = TestGuest.connect(dir.resolve("vf0.sock"));
             TestGuest g1 = TestGuest.connect(dir.resolve("vf1.sock"));
             TestGuest bad = TestGuest.connect(dir.resolve("vf2.sock"))) {
            Links.awaitUp(pf, 3);
            // vf2's driver points a transmit descriptor far outside its memory.
            bad.txQueue().writeDescriptor(200, 0x7777_0000_0000L, 1500, 0, 0);
            bad.txQueue().makeAvailable(200);
            bad.send(TestGuest.frame(MAC0, MAC2, 60, 9));
            VirtualFunction vf2 = pf.virtualFunctions().get(2);
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (vf2.device().queueErrors() == 0 && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
            assertEquals(1, vf2.device().queueErrors());
            assertTrue(vf2.device().brokenQueues().contains("outside guest memory"), vf2.device().brokenQueues());
            assertTrue(vf2.device().needsReset(), "GET_STATUS reports DEVICE_NEEDS_RESET");
            assertNull(g0.receive(Duration.ofMillis(300)), "nothing of the hostile chain reached anyone");
            // The other VFs still switch, both ways.
            for (int i = 0; i < 100; i++) {
                byte[] f = TestGuest.frame(MAC1, MAC0, 64 + i, i);
                g0.send(f);
                assertArrayEquals(f, g1.receive(WAIT));
                byte[] back = TestGuest.frame(MAC0, MAC1, 64 + i, i);
                g1.send(back);
                assertArrayEquals(back, g0.receive(WAIT));
            }
            assertEquals(0, pf.virtualFunctions().get(0).device().queueErrors());
        }
    }

    @Test
    void shouldDropFramesAVfSendsFromAnotherAddressUnlessTrusted() throws Exception {
        try (TestGuest g0 = TestGuest.connect(dir.resolve("vf0.sock"));
             TestGuest g1 = TestGuest.connect(dir.resolve("vf1.sock"))) {
            Links.awaitUp(pf, 2);
            long forged = 0x02_00_00_00_00_66L;
            g0.send(TestGuest.frame(MAC1, forged, 60, 1));
            assertNull(g1.receive(Duration.ofMillis(300)), "vf0 has MAC0 assigned: spoofchk drops another source");
            assertEquals(1, pf.spoofDrops());
            byte[] own = TestGuest.frame(MAC1, MAC0, 60, 2);
            g0.send(own);
            assertArrayEquals(own, g1.receive(WAIT));
            pf.setTrusted(pf.virtualFunctions().get(0), true);
            byte[] trusted = TestGuest.frame(MAC1, forged, 60, 3);
            g0.send(trusted);
            assertArrayEquals(trusted, g1.receive(WAIT), "a trusted VF sends from any address");
            assertEquals(1, pf.spoofDrops());
        }
    }

}

package io.vnicd.tests.dpdk;

import io.vnicd.sriov.pf.PhysicalFunction;
import io.vnicd.sriov.pf.VirtualFunction;
import io.vnicd.tests.peers.Testpmd;
import io.vnicd.virtio.testing.VhostUserTestFrontend;
import io.vnicd.vmm.daemon.Vnicd;
import io.vnicd.vmm.daemon.VnicdConfig;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * vnicd serving two VFs to DPDK's testpmd (virtio-user, io forwarding): frames sent by one port come out at
 * the other through vnicd's switch and are bounced back, in both directions.
 */
@Tag("slow")
class TestpmdSwitchingTest {
    @TempDir
    Path dir;

    private VnicdConfig config(String mode, int vfs) {
        return config(mode, vfs, 1);
    }

    private VnicdConfig config(String mode, int vfs, int queuePairs) {
        List<VnicdConfig.VfConfig> list = new java.util.ArrayList<>();
        for (int i = 0; i < vfs; i++) {
            list.add(new VnicdConfig.VfConfig("vf" + i, dir.resolve("vf" + i + ".sock").toString(), mode, queuePairs, null));
        }
        return new VnicdConfig(null, 50, List.of(new VnicdConfig.PfConfig("pf0", list)));
    }

    private static void sleep(long ms) throws InterruptedException {
        Thread.sleep(ms);
    }

    @Test
    void shouldBounceFramesBetweenTwoTestpmdPortsThroughVnicd() throws Exception {
        try (Vnicd vnicd = new Vnicd(config("server", 2)).start();
             Testpmd testpmd = Testpmd.frontend("vnicd-it-fwd", List.of(dir.resolve("vf0.sock"), dir.resolve("vf1.sock")),
                     1, false, dir.resolve("testpmd.log"))) {
            testpmd.command("start tx_first 16");
            sleep(3000);
            List<Testpmd.PortStats> first = testpmd.portStats(2);
            sleep(2000);
            List<Testpmd.PortStats> second = testpmd.portStats(2);
            for (int port = 0; port < 2; port++) {
                Testpmd.PortStats a = first.get(port);
                Testpmd.PortStats b = second.get(port);
                assertTrue(b.rxPackets() > a.rxPackets() && a.rxPackets() > 1000,
                        "port " + port + " keeps receiving frames switched by vnicd: " + a + " then " + b);
                assertTrue(b.txPackets() > a.txPackets(), "port " + port + " keeps transmitting: " + b);
            }
            PhysicalFunction pf = vnicd.physicalFunctions().getFirst();
            for (VirtualFunction vf : pf.virtualFunctions()) {
                assertEquals(0, vf.device().queueErrors(), vf.name() + " saw no broken chains");
                assertTrue(vf.device().queuePair(0).txFrames() > 1000, vf.name() + " transmitted through vnicd");
                assertTrue(vf.device().queuePair(0).rxFrames() > 1000, vf.name() + " received through vnicd");
            }
        }
    }

    @Test
    void shouldServeSeveralQueuePairsWhenTheFrontendNegotiatesMq() throws Exception {
        try (Vnicd vnicd = new Vnicd(config("server", 2, 2)).start();
             Testpmd testpmd = Testpmd.frontend("vnicd-it-mq", List.of(dir.resolve("vf0.sock"), dir.resolve("vf1.sock")),
                     2, false, dir.resolve("testpmd.log"))) {
            testpmd.command("start tx_first 16");
            sleep(3000);
            List<Testpmd.PortStats> stats = testpmd.portStats(2);
            assertTrue(stats.get(0).rxPackets() > 1000 && stats.get(1).rxPackets() > 1000, "frames flow: " + stats);
            for (VirtualFunction vf : vnicd.physicalFunctions().getFirst().virtualFunctions()) {
                assertTrue((vf.device().negotiatedFeatures() & (1L << 22)) != 0, vf.name() + " negotiated VIRTIO_NET_F_MQ");
                assertTrue(vf.device().queuePair(0).txFrames() > 0 && vf.device().queuePair(1).txFrames() > 0,
                        vf.name() + ": testpmd transmitted on both queue pairs and vnicd served both");
            }
        }
    }

    @Test
    void shouldReconnectInClientModeWhenTheFrontendComesBack() throws Exception {
        List<Path> sockets = List.of(dir.resolve("vf0.sock"), dir.resolve("vf1.sock"));
        try (Vnicd vnicd = new Vnicd(config("client", 2)).start()) {
            VirtualFunction vf0 = vnicd.physicalFunctions().getFirst().virtualFunctions().getFirst();
            for (int round = 1; round <= 2; round++) {
                try (Testpmd testpmd = Testpmd.frontend("vnicd-it-client", sockets, 1, true, dir.resolve("testpmd" + round + ".log"))) {
                    testpmd.command("start tx_first 16");
                    sleep(2500);
                    List<Testpmd.PortStats> stats = testpmd.portStats(2);
                    assertTrue(stats.get(0).rxPackets() > 100 && stats.get(1).rxPackets() > 100,
                            "round " + round + ": frames flow after vnicd connected: " + stats);
                }
                long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
                while (vf0.connected() && System.nanoTime() < deadline) {
                    sleep(50);
                }
                assertTrue(!vf0.connected(), "vnicd noticed the frontend went away");
                assertEquals(round, vf0.endpoint().connections());
            }
        }
    }

    @Test
    void shouldKeepSwitchingWhileAnotherVfsFrontendSendsGarbage() throws Exception {
        try (Vnicd vnicd = new Vnicd(config("server", 3)).start();
             Testpmd testpmd = Testpmd.frontend("vnicd-it-hostile", List.of(dir.resolve("vf0.sock"), dir.resolve("vf1.sock")),
                     1, false, dir.resolve("testpmd.log"))) {
            testpmd.command("start tx_first 16");
            sleep(1500);
            VirtualFunction vf2 = vnicd.physicalFunctions().getFirst().virtualFunctions().get(2);
            // A frontend that breaks every rule it can, one connection after another.
            for (int attempt = 0; attempt < 3; attempt++) {
                try (VhostUserTestFrontend evil = VhostUserTestFrontend.connect(vf2.socket(), Duration.ofSeconds(5))) {
                    evil.handshake();
                    evil.sendRaw(99, 1, 8, new byte[8], null);                      // unknown request
                    evil.sendRaw(8, 1, 4, new byte[4], null);                       // SET_VRING_NUM too short
                    evil.sendRaw(5, 1, 40, new byte[40], null);                     // SET_MEM_TABLE, no fds
                    evil.setVringNum(0, 3);                                         // not a power of two
                    evil.setVringAddr(0, 0x1000, 0x2000, 0x3000);                   // no memory mapped
                    evil.sendRaw(1, 1, 1 << 20, new byte[0], null);                  // absurd payload size: dropped
                    assertTrue(evil.isClosedByPeer(), "vnicd drops a connection whose stream cannot be trusted");
                }
            }
            List<Testpmd.PortStats> a = testpmd.portStats(2);
            sleep(1500);
            List<Testpmd.PortStats> b = testpmd.portStats(2);
            assertTrue(b.get(0).rxPackets() > a.get(0).rxPackets() && b.get(1).rxPackets() > a.get(1).rxPackets(),
                    "the other VFs kept switching: " + a + " then " + b);
            assertTrue(vf2.endpoint().refusedMessages() >= 9, "refused messages are counted: " + vf2.endpoint().refusedMessages());
            assertEquals(3, vf2.endpoint().connections());
        }
    }
}

package io.vnicd.tests.router;

import io.vnicd.sriov.router.Ipv4Subnet;
import io.vnicd.sriov.router.RouterCounter;
import io.vnicd.sriov.router.RouterPort;
import io.vnicd.sriov.router.VirtualRouter;
import io.vnicd.tests.drill.FailoverDrill;
import io.vnicd.vmm.daemon.Vnicd;
import io.vnicd.vmm.daemon.VnicdConfig;
import io.vnicd.vmm.qemu.GuestImage;
import io.vnicd.vmm.qemu.QemuGuest;
import io.vnicd.vmm.qemu.QemuLauncher;
import io.vnicd.vmm.qemu.QemuNic;
import io.vnicd.vmm.qemu.QmpClient;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The virtual router (US7941539) with real guests: a QEMU guest of pf0's subnet (10.1.0.0/24) migrates live to a
 * VF of pf1, which serves 10.2.0.0/24. It keeps its address; vnicd sees it on pf1 (its gratuitous ARP after the
 * move) and routes for it, so that both kinds of peer still reach it: its old neighbour on pf0 (10.1.0.7, pinging
 * it all through the move) and a host of pf1's subnet (10.2.0.9, whose gateway 10.2.0.254 is the router).
 */
@Tag("slow")
class RouterMigrationTest {
    private static final Duration BOOT = Duration.ofSeconds(180);
    private static final String MOVER = "10.1.0.5";
    private static final String MAC = "52:54:00:81:01:05";

    @TempDir
    Path dir;

    private static VnicdConfig.VfConfig vf(Path d, String name) {
        return new VnicdConfig.VfConfig(name, d.resolve(name + ".sock").toString(), "server", 1, null);
    }

    private QemuLauncher.Builder mover(GuestImage image, String name, String vf) {
        return QemuLauncher.builder(image, dir, name)
                .nic(QemuNic.vhostUser("vf", MAC, dir.resolve(vf + ".sock")))
                .kernelArgs("vnicd.ip=eth0:" + MOVER + "/24", "vnicd.gw=10.1.0.254", "vnicd.stay=1", "vnicd.timeout=600");
    }

    private static Pattern ping(String target) {
        return Pattern.compile("result ping target=" + target.replace(".", "\\.") + " sent=(\\d+) received=(\\d+)");
    }

    @Test
    @Timeout(600)
    void shouldKeepAMovedGuestReachableFromBothSubnets() throws Exception {
        GuestImage image = FailoverDrill.image();
        VnicdConfig config = new VnicdConfig(null, null, List.of(
                new VnicdConfig.PfConfig("pf0", List.of(vf(dir, "vf0"), vf(dir, "vf2")))
                        .withSubnet(new VnicdConfig.SubnetConfig("10.1.0.0/24", "10.1.0.254")),
                new VnicdConfig.PfConfig("pf1", List.of(vf(dir, "vf1"), vf(dir, "vf3")))
                        .withSubnet(new VnicdConfig.SubnetConfig("10.2.0.0/24", "10.2.0.254"))));
        Path channel = dir.resolve("migration.sock");
        try (Vnicd vnicd = new Vnicd(config.validate()).start();
             QemuGuest src = mover(image, "mover-src", "vf0").build().start();
             QemuGuest dst = mover(image, "mover-dst", "vf1").extraArgs("-incoming", "defer").build().start();
             QemuGuest oldPeer = QemuLauncher.builder(image, dir, "old-peer")
                     .nic(QemuNic.vhostUser("vf", "52:54:00:81:01:07", dir.resolve("vf2.sock")))
                     .kernelArgs("vnicd.ip=eth0:10.1.0.7/24", "vnicd.gw=10.1.0.254",
                             "vnicd.run=ping:" + MOVER + ":400:56:0.1", "vnicd.wait=300", "vnicd.stay=1", "vnicd.timeout=600")
                     .build().start();
             QemuGuest newPeer = QemuLauncher.builder(image, dir, "new-peer")
                     .nic(QemuNic.vhostUser("vf", "52:54:00:82:01:09", dir.resolve("vf3.sock")))
                     .kernelArgs("vnicd.ip=eth0:10.2.0.9/24", "vnicd.gw=10.2.0.254",
                             "vnicd.run=ping:" + MOVER + ":100:56:0.1", "vnicd.wait=300", "vnicd.stay=1", "vnicd.timeout=600")
                     .build().start()) {
            VirtualRouter router = vnicd.router();
            src.awaitMarker("link eth0 up", BOOT);
            oldPeer.awaitMarker("link eth0 up", BOOT);
            // the old neighbour's pings run (directly, on pf0) before the move
            long deadline = System.nanoTime() + BOOT.toNanos();
            while (vnicd.physicalFunction("pf0").virtualFunctions().get(0).device().queuePair(0).rxFrames() < 20
                    && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            assertTrue(!router.isActive(), "no host is away before the move: " + router.hosts());

            dst.qmp().migrateIncoming("unix:" + channel);
            src.qmp().migrate("unix:" + channel);
            QmpClient.MigrationStatus m = src.qmp().awaitMigration(Duration.ofSeconds(300));
            assertEquals("completed", m.status(), m.toString());

            Matcher fromOld = oldPeer.awaitConsole(ping(MOVER), BOOT);
            Matcher fromNew = newPeer.awaitConsole(ping(MOVER), BOOT);
            int oldSent = Integer.parseInt(fromOld.group(1));
            int oldLost = oldSent - Integer.parseInt(fromOld.group(2));
            int newSent = Integer.parseInt(fromNew.group(1));
            int newLost = newSent - Integer.parseInt(fromNew.group(2));
            List<VirtualRouter.Host> hosts = router.hosts();
            assertEquals(List.of(new VirtualRouter.Host(Ipv4Subnet.parseAddress(MOVER),
                    io.vnicd.devmodel.vswitch.MacAddress.parse(MAC), "pf1", "pf0")), hosts, "vnicd routes for the moved guest");
            RouterPort on0 = router.ports().get(0);
            RouterPort on1 = router.ports().get(1);
            String counters = "pf0 " + on0.routerCounters() + ", pf1 " + on1.routerCounters();
            System.out.printf("moved guest reached: from its old subnet %d/%d pings lost over the move, from the new"
                    + " subnet %d/%d lost (downtime %d ms)%n", oldLost, oldSent, newLost, newSent, m.downtimeMillis());
            assertTrue(oldLost <= 40, "the old neighbour still reaches the moved guest (" + oldLost + " of " + oldSent
                    + " lost over the move): " + counters);
            assertTrue(newLost <= 5, "a host of the new subnet reaches it through the router (" + newLost + " of "
                    + newSent + " lost): " + counters);
            assertTrue(on0.routerCounters().get(RouterCounter.FORWARDED.ordinal()) > 0, counters);
            assertTrue(on1.routerCounters().get(RouterCounter.FORWARDED.ordinal()) > 0, counters);
        }
    }
}

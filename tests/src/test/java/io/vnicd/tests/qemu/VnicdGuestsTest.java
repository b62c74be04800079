package io.vnicd.tests.qemu;

import io.vnicd.sriov.pf.PhysicalFunction;
import io.vnicd.sriov.pf.VirtualFunction;
import io.vnicd.vmm.daemon.Vnicd;
import io.vnicd.vmm.daemon.VnicdConfig;
import io.vnicd.vmm.qemu.QemuGuest;
import io.vnicd.vmm.qemu.QemuNic;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * QEMU guests on vnicd's VFs, the way users run them: vnicd listens, QEMU connects with vhost-user, the
 * guests' Linux virtio-net drivers (EVENT_IDX, mergeable buffers) exchange frames through vnicd's switch.
 */
@Tag("slow")
class VnicdGuestsTest {
    private static final int BYTES = 2_000_000;

    @TempDir
    Path dir;

    private Vnicd vnicd(int vfs) throws Exception {
        List<VnicdConfig.VfConfig> list = new ArrayList<>();
        for (int i = 0; i < vfs; i++) {
            list.add(new VnicdConfig.VfConfig("vf" + i, dir.resolve("vf" + i + ".sock").toString(), "server", 1, null));
        }
        return new Vnicd(new VnicdConfig(null, null, List.of(new VnicdConfig.PfConfig("pf0", list))).validate()).start();
    }

    @Test
    void shouldLetTwoGuestsPingAndStreamThroughVnicd() throws Exception {
        TestGuests.image();
        try (Vnicd vnicd = vnicd(2);
             QemuGuest receiver = TestGuests.guest(dir, "rx")
                     .nic(QemuNic.vhostUser("vf0", "52:54:00:00:05:01", dir.resolve("vf0.sock")))
                     .kernelArgs("vnicd.ip=eth0:10.0.0.1/24", "vnicd.run=tcp-recv:5001", "vnicd.run=respond:2")
                     .build().start();
             QemuGuest sender = TestGuests.guest(dir, "tx")
                     .nic(QemuNic.vhostUser("vf1", "52:54:00:00:05:02", dir.resolve("vf1.sock")))
                     .kernelArgs("vnicd.ip=eth0:10.0.0.2/24", "vnicd.run=ping:10.0.0.1:5",
                             "vnicd.run=tcp-send:10.0.0.1:5001:" + BYTES)
                     .build().start()) {
            Matcher ping = sender.awaitConsole(Pattern.compile("result ping target=10.0.0.1 sent=(\\d+) received=(\\d+)"),
                    TestGuests.BOOT);
            Matcher sent = sender.awaitConsole(Pattern.compile("result tcp-send bytes=(\\d+) md5=(\\w+)"), TestGuests.BOOT);
            Matcher received = receiver.awaitConsole(Pattern.compile("result tcp-recv bytes=(\\d+) md5=(\\w+)"), TestGuests.BOOT);
            assertEquals("5", ping.group(2), "every ping answered through vnicd");
            assertEquals(String.valueOf(BYTES), received.group(1), "the whole stream arrived");
            assertEquals(sent.group(2), received.group(2), "intact (md5)");
            PhysicalFunction pf = vnicd.physicalFunctions().getFirst();
            for (VirtualFunction vf : pf.virtualFunctions()) {
                assertEquals(0, vf.device().queueErrors(), vf.name() + ": the Linux driver's rings were all valid");
                assertTrue(vf.device().queuePair(0).rxFrames() > 100, vf.name() + " received through vnicd");
            }
        }
    }

    @Test
    void shouldShowCarrierLossInTheGuestWhenTheLinkIsSetDownOverQmp() throws Exception {
        TestGuests.image();
        try (Vnicd vnicd = vnicd(1);
             QemuGuest vm = TestGuests.guest(dir, "link")
                     .nic(QemuNic.vhostUser("vf0", "52:54:00:00:06:01", dir.resolve("vf0.sock")))
                     .kernelArgs("vnicd.ip=eth0:10.0.0.1/24", "vnicd.stay=1")
                     .build().start()) {
            vm.awaitMarker("link eth0 up", TestGuests.BOOT);
            vm.qmp().setLink("vf0", false);
            vm.awaitMarker("carrier eth0 down", TestGuests.BOOT);
            vm.qmp().setLink("vf0", true);
            vm.awaitConsole(Pattern.compile("carrier eth0 up"), TestGuests.BOOT);
            assertTrue(vnicd.physicalFunctions().getFirst().virtualFunctions().getFirst().connected(),
                    "vnicd kept the VF connected across the link change");
        }
    }

    @Test
    void shouldBringUpAVfHotPluggedIntoARunningGuest() throws Exception {
        TestGuests.image();
        try (Vnicd vnicd = vnicd(2);
             QemuGuest peer = TestGuests.guest(dir, "peer")
                     .nic(QemuNic.vhostUser("vf0", "52:54:00:00:07:01", dir.resolve("vf0.sock")))
                     .kernelArgs("vnicd.ip=eth0:10.0.0.1/24", "vnicd.stay=1")
                     .build().start();
             QemuGuest late = TestGuests.guest(dir, "late")
                     .hotplugSlots(1)
                     .kernelArgs("vnicd.run=hotplug:eth0:10.0.0.2/24:120", "vnicd.run=ping:10.0.0.1:3")
                     .build().start()) {
            late.awaitMarker("booted", TestGuests.BOOT);
            VirtualFunction vf1 = vnicd.physicalFunctions().getFirst().virtualFunctions().get(1);
            assertTrue(!vf1.connected(), "vf1 has no frontend before the hot-plug");
            late.hotplug(QemuNic.vhostUser("vf1", "52:54:00:00:07:02", dir.resolve("vf1.sock")));
            late.awaitMarker("hotplug eth0 up", TestGuests.BOOT);
            Matcher ping = late.awaitConsole(Pattern.compile("result ping target=10.0.0.1 sent=(\\d+) received=(\\d+)"),
                    TestGuests.BOOT);
            assertEquals("3", ping.group(2), "pings answered over the hot-plugged VF");
            assertTrue(vf1.connected() && vf1.endpoint().connections() == 1);
            assertTrue(peer.isAlive(), "the guest on the other VF kept running");
        }
    }
    /**
     * A VF added to the running daemon (as echo N > sriov_numvfs would) is hot-plugged into a running guest and
     * carries its pings; removed again, the guest sees its link go down, and the guest on the other VF is untouched.
     */
    @Test
    void shouldServeAVfAddedAtRunTimeAndTakeItAwayWithTheLinkDown() throws Exception {
        TestGuests.image();
        try (Vnicd vnicd = vnicd(1);
             QemuGuest peer = TestGuests.guest(dir, "peer")
                     .nic(QemuNic.vhostUser("vf0", "52:54:00:00:08:01", dir.resolve("vf0.sock")))
                     .kernelArgs("vnicd.ip=eth0:10.0.0.1/24", "vnicd.stay=1")
                     .build().start();
             QemuGuest late = TestGuests.guest(dir, "late")
                     .hotplugSlots(1)
                     .kernelArgs("vnicd.run=hotplug:eth0:10.0.0.2/24:120", "vnicd.run=ping:10.0.0.1:3", "vnicd.stay=1")
                     .build().start()) {
            late.awaitMarker("booted", TestGuests.BOOT);
            java.util.concurrent.LinkedBlockingQueue<io.vnicd.vmm.daemon.VnicdEvent> events = new java.util.concurrent.LinkedBlockingQueue<>();
            vnicd.subscribe(events::add);
            // the embedding API, as a VM manager gives a new guest its VF
            VirtualFunction vf1 = vnicd.addVirtualFunction("pf0", new VnicdConfig.VfConfig("vf1",
                    dir.resolve("vf1.sock").toString(), "server", 1, null));
            late.hotplug(QemuNic.vhostUser("vf1", "52:54:00:00:08:02", dir.resolve("vf1.sock")));
            late.awaitMarker("hotplug eth0 up", TestGuests.BOOT);
            Matcher ping = late.awaitConsole(Pattern.compile("result ping target=10.0.0.1 sent=(\\d+) received=(\\d+)"),
                    TestGuests.BOOT);
            assertEquals("3", ping.group(2), "pings answered over the VF added at run time");
            assertTrue(vf1.connected());
            assertTrue(vnicd.counters("pf0", "vf1").get("rxFrames") >= 3, "the VF's counters moved");

            vnicd.removeVirtualFunction("pf0", "vf1");
            late.awaitMarker("carrier eth0 down", TestGuests.BOOT);
            assertEquals(1, vnicd.physicalFunctions().getFirst().virtualFunctions().size());
            assertTrue(!java.nio.file.Files.exists(dir.resolve("vf1.sock")), "its socket is gone");
            assertTrue(peer.isAlive() && late.isAlive(), "both guests kept running");
            assertTrue(vnicd.physicalFunctions().getFirst().virtualFunctions().getFirst().connected(),
                    "the other VF kept its frontend");
            List<String> heard = new ArrayList<>();
            long deadline = System.nanoTime() + 5_000_000_000L;
            while (!heard.contains("VfRemoved vf1") && System.nanoTime() < deadline) {
                io.vnicd.vmm.daemon.VnicdEvent e = events.poll(100, java.util.concurrent.TimeUnit.MILLISECONDS);
                if (e != null) {
                    heard.add(e.getClass().getSimpleName() + " " + switch (e) {
                        case io.vnicd.vmm.daemon.VnicdEvent.VfAdded a -> a.vf();
                        case io.vnicd.vmm.daemon.VnicdEvent.FrontendConnected c -> c.vf();
                        case io.vnicd.vmm.daemon.VnicdEvent.FrontendGone g -> g.vf();
                        case io.vnicd.vmm.daemon.VnicdEvent.VfRemoved r -> r.vf();
                        default -> "";
                    });
                }
            }
            assertTrue(heard.indexOf("VfAdded vf1") < heard.indexOf("FrontendConnected vf1")
                    && heard.indexOf("FrontendConnected vf1") < heard.indexOf("FrontendGone vf1")
                    && heard.indexOf("FrontendGone vf1") < heard.indexOf("VfRemoved vf1")
                    && heard.indexOf("VfAdded vf1") >= 0, "the events in order: " + heard);
        }
    }
}

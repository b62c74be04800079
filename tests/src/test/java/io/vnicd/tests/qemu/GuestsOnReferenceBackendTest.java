package io.vnicd.tests.qemu;

import io.vnicd.vmm.qemu.QemuGuest;
import io.vnicd.vmm.qemu.QemuNic;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A reference check, not a test of vnicd: guests whose NICs are vhost-user ports of DPDK testpmd (DPDK's own
 * vhost library, the reference backend) forwarding between them, wired exactly as vnicd's VFs are (memfd shared
 * memory, vhost-user chardev, virtio-net-pci with vectors=0). When a vnicd test ({@link VnicdGuestsTest}) fails
 * and this one passes, the fault is vnicd's, not the guest's, QEMU's or the launcher's.
 */
@Tag("slow")
class GuestsOnReferenceBackendTest {
    private static final int BYTES = 1_000_000;

    @TempDir
    Path dir;

    @Test
    void shouldPingAndStreamBetweenGuestsOnVhostUserPortsOfReferenceBackend() throws Exception {
        TestGuests.image();
        Path port0 = dir.resolve("vf0.sock");
        Path port1 = dir.resolve("vf1.sock");
        try (TestpmdVhostPorts testpmd = TestpmdVhostPorts.start(dir, port0, port1);
             QemuGuest receiver = TestGuests.guest(dir, "vu-rx")
                     .nic(QemuNic.vhostUser("vf0", "52:54:00:00:03:01", port0))
                     .kernelArgs("vnicd.ip=eth0:10.0.0.1/24", "vnicd.run=tcp-recv:5001", "vnicd.run=respond:2")
                     .build().start();
             QemuGuest sender = TestGuests.guest(dir, "vu-tx")
                     .nic(QemuNic.vhostUser("vf1", "52:54:00:00:03:02", port1))
                     .kernelArgs("vnicd.ip=eth0:10.0.0.2/24", "vnicd.run=ping:10.0.0.1:5",
                             "vnicd.run=tcp-send:10.0.0.1:5001:" + BYTES)
                     .build().start()) {

            Matcher ping = sender.awaitConsole(Pattern.compile("result ping target=10.0.0.1 sent=(\\d+) received=(\\d+)"),
                    TestGuests.BOOT);
            Matcher sent = sender.awaitConsole(Pattern.compile("result tcp-send bytes=(\\d+) md5=(\\w+)"), TestGuests.BOOT);
            Matcher received = receiver.awaitConsole(Pattern.compile("result tcp-recv bytes=(\\d+) md5=(\\w+)"),
                    TestGuests.BOOT);

            assertEquals("5", ping.group(2), () -> "all pings answered through the vhost-user backend\n" + testpmd.output());
            assertEquals(String.valueOf(BYTES), received.group(1));
            assertEquals(sent.group(2), received.group(2), "the stream arrived intact");
        }
    }

    /** The path vnicd takes to give a running VM a new VF: chardev-add, netdev_add vhost-user, device_add. */
    @Test
    void shouldCarryTrafficOnVhostUserNicHotPluggedIntoRunningGuest() throws Exception {
        TestGuests.image();
        Path port0 = dir.resolve("vf0.sock");
        Path port1 = dir.resolve("vf1.sock");
        try (TestpmdVhostPorts testpmd = TestpmdVhostPorts.start(dir, port0, port1);
             QemuGuest peer = TestGuests.guest(dir, "vu-peer")
                     .nic(QemuNic.vhostUser("vf0", "52:54:00:00:04:01", port0))
                     .kernelArgs("vnicd.ip=eth0:10.0.0.1/24", "vnicd.stay=1")
                     .build().start();
             QemuGuest late = TestGuests.guest(dir, "vu-late")
                     .hotplugSlots(1)
                     .kernelArgs("vnicd.run=hotplug:eth0:10.0.0.2/24:120", "vnicd.run=ping:10.0.0.1:3")
                     .build().start()) {
            late.awaitMarker("booted", TestGuests.BOOT);

            late.hotplug(QemuNic.vhostUser("vf1", "52:54:00:00:04:02", port1));
            late.awaitMarker("hotplug eth0 up", TestGuests.BOOT);
            Matcher ping = late.awaitConsole(Pattern.compile("result ping target=10.0.0.1 sent=(\\d+) received=(\\d+)"),
                    TestGuests.BOOT);

            assertEquals("3", ping.group(2), () -> "pings answered over the hot-plugged VF\n" + testpmd.output());
            assertTrue(peer.isAlive(), "the peer on the other VF kept running");
        }
    }
}

package io.vnicd.tests.qemu;

import io.vnicd.vmm.qemu.QemuGuest;
import io.vnicd.vmm.qemu.QemuNic;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The guest half of "traffic continues when a NIC fails" (US20120005521, US8315156): two guests, each with an
 * active-backup bond over two NICs, cabled eth0-eth0 and eth1-eth1 by socket netdevs. Pulling the eth0 cable
 * (set_link down on both ends) moves both bonds to eth1 and pings still get answers.
 */
@Tag("slow")
class BondFailoverTest {
    private static final Pattern PING = Pattern.compile("result ping target=10.0.0.1 sent=(\\d+) received=(\\d+)");

    @TempDir
    Path dir;

    @Test
    void shouldKeepPingingThroughBondWhenActiveNicLosesLink() throws Exception {
        int wire0 = TestGuests.freePort();
        int wire1 = TestGuests.freePort();
        try (QemuGuest a = TestGuests.guest(dir, "bond-a")
                .nic(QemuNic.socketListen("nic0", "52:54:00:00:01:01", wire0))
                .nic(QemuNic.socketListen("nic1", "52:54:00:00:01:02", wire1))
                .kernelArgs("vnicd.bond=bond0:eth0,eth1:10.0.0.1/24:eth0", "vnicd.stay=1")
                .build().start()) {
            TestGuests.awaitListening(wire0, Duration.ofSeconds(20));
            TestGuests.awaitListening(wire1, Duration.ofSeconds(20));
            try (QemuGuest b = TestGuests.guest(dir, "bond-b")
                    .nic(QemuNic.socketConnect("nic0", "52:54:00:00:02:01", wire0))
                    .nic(QemuNic.socketConnect("nic1", "52:54:00:00:02:02", wire1))
                    .kernelArgs("vnicd.bond=bond0:eth0,eth1:10.0.0.2/24:eth0", "vnicd.run=ping:10.0.0.1:3",
                            "vnicd.run=wait-active:bond0:eth1:60", "vnicd.run=ping:10.0.0.1:3")
                    .build().start()) {
                Matcher before = b.awaitConsole(PING, TestGuests.BOOT);
                a.awaitMarker("bond bond0 active eth0", TestGuests.BOOT);

                a.qmp().setLink("nic0", false);
                b.qmp().setLink("nic0", false);
                b.awaitMarker("result wait-active bond0 eth1", Duration.ofSeconds(60));
                a.awaitMarker("bond bond0 active eth1", Duration.ofSeconds(60));
                Matcher after = b.awaitConsole(PING, 2, Duration.ofSeconds(60));

                assertEquals("3", before.group(2), "pings answered over eth0");
                assertEquals("3", after.group(2), "pings answered over eth1 after eth0 lost its link");
                assertTrue(b.markers().contains("carrier eth0 down"), b.markers().toString());
            }
        }
    }
}

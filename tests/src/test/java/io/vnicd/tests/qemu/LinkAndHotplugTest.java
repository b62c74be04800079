package io.vnicd.tests.qemu;

import io.vnicd.vmm.qemu.QemuGuest;
import io.vnicd.vmm.qemu.QemuNic;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** What a guest sees when the host side changes its NICs through QMP: carrier changes and hot-plug. */
@Tag("slow")
class LinkAndHotplugTest {
    @TempDir
    Path dir;

    @Test
    void shouldShowCarrierLossInGuestWhenLinkIsSetDownAndBackWhenSetUp() throws Exception {
        try (QemuGuest guest = TestGuests.guest(dir, "link")
                .nic(QemuNic.socketListen("nic0", "52:54:00:00:00:11", TestGuests.freePort()))
                .kernelArgs("vnicd.ip=eth0:10.0.0.1/24", "vnicd.stay=1")
                .build().start()) {
            guest.awaitMarker("link eth0 up", TestGuests.BOOT);

            guest.qmp().setLink("nic0", false);
            guest.awaitMarker("carrier eth0 down", Duration.ofSeconds(30));
            guest.qmp().setLink("nic0", true);
            guest.awaitMarker("carrier eth0 up", Duration.ofSeconds(30));

            assertTrue(guest.markers().indexOf("carrier eth0 down") < guest.markers().indexOf("carrier eth0 up"),
                    guest.markers().toString());
        }
    }

    /** q35 plugs into an empty PCIe root port (native hot-plug); pc into the root bus (ACPI hot-plug). */
    @ParameterizedTest
    @ValueSource(strings = {"q35", "pc"})
    void shouldBringUpNicHotPluggedIntoRunningGuestAndReleaseItOnUnplug(String machine) throws Exception {
        try (QemuGuest guest = TestGuests.guest(dir, "hotplug-" + machine)
                .machine(machine)
                .hotplugSlots(1)
                .nic(QemuNic.socketListen("nic0", "52:54:00:00:00:21", TestGuests.freePort()))
                .kernelArgs("vnicd.ip=eth0:10.0.0.1/24", "vnicd.run=hotplug:eth1:10.0.1.1/24:120", "vnicd.stay=1")
                .build().start()) {
            guest.awaitMarker("link eth0 up", TestGuests.BOOT);
            QemuNic added = QemuNic.socketListen("nic1", "52:54:00:00:00:22", TestGuests.freePort());

            guest.hotplug(added);
            guest.awaitMarker("hotplug eth1 up", Duration.ofSeconds(60));
            guest.unplug(added, Duration.ofSeconds(60));

            assertTrue(guest.markers().contains("iface eth1 mac=52:54:00:00:00:22"), guest.markers().toString());
        }
    }
}

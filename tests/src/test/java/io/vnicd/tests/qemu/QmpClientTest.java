package io.vnicd.tests.qemu;

import io.vnicd.vmm.qemu.QemuGuest;
import io.vnicd.vmm.qemu.QmpClient;
import io.vnicd.vmm.qemu.QmpEvent;
import io.vnicd.vmm.qemu.QmpException;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** QMP against a real QEMU; the guest need not boot for any of it, so these are quick. */
@Tag("slow")
class QmpClientTest {
    @TempDir
    Path dir;

    @Test
    void shouldNegotiateCapabilitiesAndReportRunningStatus() throws Exception {
        try (QemuGuest guest = TestGuests.guest(dir, "qmp").kernelArgs("vnicd.stay=1").build().start()) {
            QmpClient qmp = guest.qmp();
            assertTrue(qmp.greeting().has("QMP"), qmp.greeting().toString());
            assertTrue(qmp.qemuVersion().matches("\\d+\\.\\d+\\.\\d+"), qmp.qemuVersion());

            QmpClient.Status status = qmp.queryStatus();

            assertEquals("running", status.status());
            assertTrue(status.running());
        }
    }

    @Test
    void shouldFailWithQemuErrorClassWhenCommandIsRefused() throws Exception {
        try (QemuGuest guest = TestGuests.guest(dir, "qmp").kernelArgs("vnicd.stay=1").build().start()) {
            QmpClient qmp = guest.qmp();

            QmpException unknown = assertThrows(QmpException.class, () -> qmp.execute("no-such-command", Map.of()));
            QmpException noDevice = assertThrows(QmpException.class, () -> qmp.setLink("no-such-nic", false));

            assertEquals("CommandNotFound", unknown.errorClass());
            assertEquals("no-such-command", unknown.command());
            assertTrue(noDevice.description().contains("no-such-nic"), noDevice.getMessage());
            assertEquals("running", qmp.queryStatus().status(), "the connection stays usable after an error");
        }
    }

    @Test
    void shouldDeliverShutdownEventOnQuitAndFailCallsAfterQemuIsGone() throws Exception {
        try (QemuGuest guest = TestGuests.guest(dir, "qmp").kernelArgs("vnicd.stay=1").build().start()) {
            QmpClient qmp = guest.qmp();
            List<QmpEvent> seen = new CopyOnWriteArrayList<>();
            qmp.addEventListener(seen::add);

            qmp.quit();
            QmpEvent shutdown = qmp.awaitEvent("SHUTDOWN", e -> true, Duration.ofSeconds(10));
            int exit = guest.awaitExit(Duration.ofSeconds(10));

            assertEquals("host-qmp-quit", shutdown.text("reason"));
            assertTrue(seen.stream().anyMatch(e -> e.name().equals("SHUTDOWN")), seen.toString());
            assertEquals(0, exit);
            QmpException gone = assertThrows(QmpException.class, qmp::queryStatus);
            assertEquals(QmpException.DISCONNECTED, gone.errorClass());
            assertFalse(qmp.isConnected());
        }
    }
}

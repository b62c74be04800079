package io.vnicd.tests.qemu;

import io.vnicd.sriov.pf.VirtualFunction;
import io.vnicd.virtio.net.VirtioNetBackend;
import io.vnicd.vmm.daemon.Vnicd;
import io.vnicd.vmm.daemon.VnicdConfig;
import io.vnicd.vmm.qemu.QemuGuest;
import io.vnicd.vmm.qemu.QemuNic;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Memory hot-plug under a guest on a vnicd VF (vhost-user CONFIGURE_MEM_SLOTS: QEMU adds each region with
 * ADD_MEM_REG and removes it with REM_MEM_REG): while a TCP stream flows into the guest, a DIMM is plugged and
 * onlined as kernel memory, where the guest then allocates its RX buffers (vnicd writes frames into the new region),
 * a second DIMM is plugged as movable memory and unplugged again, and the stream arrives intact.
 */
@Tag("slow")
class MemoryHotplugTest {
    private static final long KERNEL_DIMM = 0x100000000L;
    private static final long MOVABLE_DIMM = 0x120000000L;
    private static final long BYTES = 256L << 20;
    private static final Duration WAIT = Duration.ofSeconds(120);

    @TempDir
    Path dir;

    private static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not within " + WAIT + ": " + what);
            }
            Thread.sleep(50);
        }
    }

    private static VirtioNetBackend.MemoryRegion region(VirtualFunction vf, long gpa) {
        return vf.device().memoryRegions().stream().filter(r -> r.guestPhysAddr() == gpa).findFirst().orElse(null);
    }

    @Test
    @Timeout(400)
    void shouldKeepSwitchingWhileGuestMemoryIsPluggedAndUnplugged() throws Exception {
        TestGuests.image();
        VnicdConfig config = new VnicdConfig(null, null, List.of(new VnicdConfig.PfConfig("pf0", List.of(
                new VnicdConfig.VfConfig("vf0", dir.resolve("vf0.sock").toString(), "server", 1, null),
                new VnicdConfig.VfConfig("vf1", dir.resolve("vf1.sock").toString(), "server", 1, null)))));
        try (Vnicd vnicd = new Vnicd(config.validate()).start();
             QemuGuest receiver = TestGuests.guest(dir, "rx")
                     .memoryHotplug(2, 1024)
                     .nic(QemuNic.vhostUser("vf0", "52:54:00:00:0a:01", dir.resolve("vf0.sock")))
                     .kernelArgs("vnicd.ip=eth0:10.0.10.1/24", "vnicd.run=bg:online-memory:" + Long.toHexString(MOVABLE_DIMM) + ":600",
                             "vnicd.run=tcp-recv:5001", "vnicd.stay=1", "vnicd.timeout=600")
                     .build().start();
             QemuGuest sender = TestGuests.guest(dir, "tx")
                     .nic(QemuNic.vhostUser("vf1", "52:54:00:00:0a:02", dir.resolve("vf1.sock")))
                     .kernelArgs("vnicd.ip=eth0:10.0.10.2/24", "vnicd.run=tcp-send:10.0.10.1:5001:" + BYTES, "vnicd.timeout=600")
                     .build().start()) {
            VirtualFunction rx = vnicd.physicalFunction("pf0").virtualFunctions().getFirst();
            receiver.awaitMarker("listening tcp 5001", TestGuests.BOOT);
            await(() -> rx.device().queuePair(0).rxFrames() > 1000, "the stream flows");
            int before = rx.device().memoryRegions().size();

            receiver.qmp().plugMemory("dimm0", 128, KERNEL_DIMM);
            receiver.awaitMarker("memory online", WAIT);
            await(() -> region(rx, KERNEL_DIMM) != null, "vnicd maps the plugged DIMM");
            await(() -> region(rx, KERNEL_DIMM).rxChains() > 0, "the guest posts RX buffers in the new memory");

            receiver.qmp().plugMemory("dimm1", 128, MOVABLE_DIMM);
            await(() -> region(rx, MOVABLE_DIMM) != null, "vnicd maps the second DIMM");
            assertEquals(before + 2, rx.device().memoryRegions().size());
            Pattern movable = Pattern.compile("memory online \\S+ at 0x" + Long.toHexString(MOVABLE_DIMM) + " online_movable");
            receiver.awaitConsole(movable, WAIT);
            long framesBefore = rx.device().queuePair(0).rxFrames();
            receiver.qmp().unplugMemory("dimm1", WAIT);
            await(() -> region(rx, MOVABLE_DIMM) == null, "vnicd unmaps the unplugged DIMM");
            assertFalse(receiver.console().contains("result tcp-recv"), "the stream still ran while the DIMM went: raise BYTES");

            Matcher sent = sender.awaitConsole(Pattern.compile("result tcp-send bytes=(\\d+) md5=(\\w+) rc=(\\d+)"), WAIT);
            Matcher got = receiver.awaitConsole(Pattern.compile("result tcp-recv bytes=(\\d+) md5=(\\w+)"), WAIT);
            assertEquals("0", sent.group(3), sent.group());
            assertEquals(String.valueOf(BYTES), got.group(1), "the whole stream arrived");
            assertEquals(sent.group(2), got.group(2), "intact (md5)");
            assertTrue(rx.device().queuePair(0).rxFrames() > framesBefore, "frames kept arriving after the unplug");
            assertEquals(0, rx.device().queueErrors(), "no ring broke");
            assertEquals(before + 1, rx.device().memoryRegions().size());
        }
    }
}

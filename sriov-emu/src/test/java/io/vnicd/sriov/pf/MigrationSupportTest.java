package io.vnicd.sriov.pf;

import io.vnicd.devmodel.packet.Announcements;
import io.vnicd.nativeio.SharedMemory;
import io.vnicd.virtio.memory.DirtyLog;
import io.vnicd.virtio.testing.TestDriver;
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
 * What a live migration asks of a VF, driven as QEMU drives it: the dirty-page log (SET_LOG_BASE with LOG_SHMFD,
 * VHOST_F_LOG_ALL), every guest page the VF writes marked and none it did not, and SEND_RARP announcing the moved
 * guest from its new port.
 */
class MigrationSupportTest {
    private static final long MAC0 = 0x02_00_00_00_0d_01L;
    private static final long MAC1 = 0x02_00_00_00_0d_02L;
    private static final Duration WAIT = Duration.ofSeconds(10);

    @TempDir
    Path dir;
    private PhysicalFunction pf;

    @BeforeEach
    void setUp() throws Exception {
        pf = new PhysicalFunction("pf-mig");
        pf.addVirtualFunction("vf0", dir.resolve("vf0.sock"), VhostUserEndpoint.Mode.SERVER, 1, -1, Duration.ofMillis(100));
        pf.addVirtualFunction("vf1", dir.resolve("vf1.sock"), VhostUserEndpoint.Mode.SERVER, 1, -1, Duration.ofMillis(100));
        pf.start();
    }

    @AfterEach
    void tearDown() {
        pf.close();
    }

    @Test
    void shouldLogEveryGuestPageItWritesWhileAMigrationLogs() throws Exception {
        try (TestGuest g0 = TestGuest.connect(dir.resolve("vf0.sock"));
             TestGuest g1 = TestGuest.connect(dir.resolve("vf1.sock"))) {
            Links.awaitUp(pf, 2);
            // QEMU sizes the log for all of guest memory: a bit per 4 KiB page up to the top of the test's region
            long pages = (TestDriver.GPA_BASE + g1.driver().size()) / DirtyLog.PAGE;
            long bytes = (pages / 64 + 1) * 8;
            try (SharedMemory log = SharedMemory.create("dirty-log", bytes)) {
                g1.frontend().setLogBase(log.fd(), bytes);
                long deadline = System.nanoTime() + WAIT.toNanos();
                while (!pf.virtualFunctions().get(1).device().isLogging() && System.nanoTime() < deadline) {
                    Thread.sleep(5);
                }
                assertTrue(pf.virtualFunctions().get(1).device().isLogging(), "VHOST_F_LOG_ALL acked and a log set");
                DirtyLog view = DirtyLog.over(log.segment());
                assertFalse(view.isMarked(g1.rxBufferGpa(0)), "nothing written yet");
                byte[] f = TestGuest.frame(MAC1, MAC0, 1000, 1);
                g0.send(f);
                assertArrayEquals(f, g1.receive(WAIT));
                assertTrue(view.isMarked(g1.rxBufferGpa(0)), "the RX buffer the frame went into");
                assertTrue(view.isMarked(g1.rxQueue().usedGpa), "the used ring");
                assertFalse(view.isMarked(g1.txSlotGpa(0)), "a page the VF never wrote");
                assertFalse(view.isMarked(g1.rxBufferGpa(100)), "an RX buffer not used yet");
                assertEquals(0, pf.virtualFunctions().get(1).device().logBeyond());
            }
        }
    }

    @Test
    void shouldAnnounceAMigratedGuestFromItsNewPort() throws Exception {
        try (TestGuest g0 = TestGuest.connect(dir.resolve("vf0.sock"));
             TestGuest g1 = TestGuest.connect(dir.resolve("vf1.sock"))) {
            Links.awaitUp(pf, 2);
            long moved = 0x52_54_00_0d_00_99L;
            assertTrue(g1.frontend().sendRarp(moved));
            byte[] rarp = g0.receive(WAIT);
            assertNotNull(rarp, "the RARP is flooded to the other ports");
            assertEquals(Announcements.LENGTH, rarp.length);
            assertEquals(0x80, rarp[12] & 0xff);
            assertEquals(0x35, rarp[13] & 0xff);
            assertEquals(1, pf.vswitch().entryPort(moved, 0), "the switch learned the guest behind vf1");
        }
    }
}

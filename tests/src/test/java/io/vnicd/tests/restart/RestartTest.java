package io.vnicd.tests.restart;

import io.vnicd.tests.drill.RestartDrill;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * vnicd killed with SIGKILL and started again under running QEMU guests (the restart drill, asserted): the guests'
 * pings resume with bounded loss, a TCP stream that spans the restart arrives intact, and the VFs negotiate the
 * same features again. Once with vnicd listening (QEMU reconnects), once with vnicd connecting (QEMU listens).
 */
@Tag("slow")
class RestartTest {
    /** Pings 100 ms apart: 50 lost is five seconds, far beyond QEMU's one-second reconnect under load. */
    private static final int MAX_LOST = 50;

    @TempDir
    Path dir;

    private static void check(RestartDrill.Measurement m) {
        System.out.println(RestartDrill.HEADER);
        System.out.println(m);
        assertTrue(m.streamIntact(), "the stream spanning the restart arrived intact: " + m);
        assertTrue(m.sameFeatures(), "the VFs negotiated the same features again: " + m);
        assertTrue(m.pingsLost() <= MAX_LOST, "few pings lost: " + m);
    }

    @Test
    @Timeout(500)
    void shouldRideThroughADaemonRestartWhenQemuReconnects() throws Exception {
        check(new RestartDrill(dir, RestartDrill.Options.defaults()).restart(false));
    }

    @Test
    @Timeout(500)
    void shouldRideThroughADaemonRestartWhenVnicdConnects() throws Exception {
        check(new RestartDrill(dir, RestartDrill.Options.defaults()).restart(true));
    }
}

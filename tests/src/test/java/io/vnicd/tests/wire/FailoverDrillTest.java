package io.vnicd.tests.wire;

import io.vnicd.tests.drill.FailoverDrill;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The failover drill (scripts/drill failover) with its outcomes asserted: a QEMU guest on a vnicd VF keeps its
 * pings and its TCP stream when the PF's active backing NIC is deleted and when the other loses its carrier, and the
 * same failures through Linux bonding in the guest are measured beside it. Margins fit a shared 2-core machine under
 * TCG, where the guest itself stalls for tens of milliseconds now and then.
 */
@Tag("slow")
class FailoverDrillTest {
    /** At 2 ms a ping, 250 lost is half a second: far more than a remapping may lose even on a loaded machine. */
    private static final long MAX_LOST = 250;
    /** From the failure command to the first frame out on the other NIC (the command's own start-up included). */
    private static final long MAX_FIRST_FRAME_MICROS = 200_000;

    @TempDir
    Path dir;

    @Test
    @Timeout(600)
    void shouldKeepPingsAndATcpStreamThroughBothKindsOfNicFailure() throws Exception {
        List<FailoverDrill.Measurement> results = new FailoverDrill(dir, FailoverDrill.Options.defaults()).run();
        System.out.println(FailoverDrill.HEADER);
        results.forEach(System.out::println);
        assertEquals(4, results.size());
        for (FailoverDrill.Measurement m : results) {
            assertTrue(m.streamIntact(), "the TCP stream arrived intact across the failure: " + m);
            assertTrue(m.pingsSent() > 1000, "the ping stream ran: " + m);
        }
        for (FailoverDrill.Measurement m : results.subList(0, 2)) {
            assertTrue(m.pingsLost() <= MAX_LOST, "vnicd's remapping lost few pings: " + m);
            assertTrue(m.firstFrameMicros() >= 0 && m.firstFrameMicros() <= MAX_FIRST_FRAME_MICROS,
                    "traffic was on the other NIC soon after the failure: " + m);
        }
        for (FailoverDrill.Measurement m : results.subList(2, 4)) {
            assertTrue(m.firstFrameMicros() >= 0, "the bond moved to the other PF's NIC: " + m);
        }
    }
}

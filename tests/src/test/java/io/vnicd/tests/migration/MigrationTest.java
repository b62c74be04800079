package io.vnicd.tests.migration;

import io.vnicd.tests.drill.MigrationDrill;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Live migration of a QEMU guest between vnicd VFs (the migration drill, asserted): it completes, a peer pinging
 * every 100 ms loses few pings, and a TCP stream into the guest that spans the move arrives intact. Once within one
 * daemon, once to a peered daemon.
 */
@Tag("slow")
class MigrationTest {
    /** Pings 100 ms apart: 30 lost is three seconds, far beyond a switchover even under TCG on a loaded machine. */
    private static final int MAX_LOST = 30;

    @TempDir
    Path dir;

    private static void check(MigrationDrill.Measurement m) {
        System.out.println(MigrationDrill.HEADER);
        System.out.println(m);
        assertTrue(m.completed(), "the migration completed: " + m);
        assertTrue(m.streamIntact(), "the stream spanning the move arrived intact: " + m);
        assertTrue(m.pingsLost() <= MAX_LOST, "few pings lost: " + m);
    }

    @Test
    @Timeout(500)
    void shouldMoveARunningGuestToAnotherVfOfTheSameDaemon() throws Exception {
        check(new MigrationDrill(dir, MigrationDrill.Options.defaults()).sameDaemon());
    }

    @Test
    @Timeout(500)
    void shouldMoveARunningGuestToAVfOfAPeeredDaemon() throws Exception {
        check(new MigrationDrill(dir, MigrationDrill.Options.defaults()).peeredDaemon());
    }
}

package io.vnicd.sriov.pf;

import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** Waits until test guests have brought their VFs' RX queues up. */
final class Links {
    private Links() {
    }

    /** The first vfs VFs of pf have an RX queue up, or the test fails naming the one that has not. */
    static void awaitUp(PhysicalFunction pf, int vfs) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        for (VirtualFunction vf : pf.virtualFunctions().subList(0, vfs)) {
            while (!vf.device().isLinkReady()) {
                assertTrue(System.nanoTime() < deadline, vf.name() + " never got its RX queue up");
                Thread.sleep(5);
            }
        }
    }
}

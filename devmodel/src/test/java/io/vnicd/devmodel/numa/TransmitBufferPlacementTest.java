package io.vnicd.devmodel.numa;

import io.vnicd.devmodel.pool.BufferPool;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TransmitBufferPlacementTest {
    /** A described 2-node machine: CPUs 0-3 on node 0, 4-7 on node 1. */
    private static final Topology TWO_NODES = Topology.parse("0:0-3;1:4-7");

    @TempDir
    Path dir;

    @Test
    void shouldServeFromTheSendersNodeWhenLocalToSender() throws Exception {
        try (BufferPool node0 = BufferPool.create("n0", 2048, 8, 2); BufferPool node1 = BufferPool.create("n1", 2048, 8, 2)) {
            TransmitBufferPlacement placement = new TransmitBufferPlacement(TWO_NODES, AllocationPolicy.LOCAL_TO_SENDER, new BufferPool[] {node0, node1});
            assertSame(node1, placement.poolFor(0, 5), "sender on cpu 5 (node 1), NIC on node 0");
            assertSame(node0, placement.poolFor(1, 2), "sender on cpu 2 (node 0), NIC on node 1");
            assertSame(node1, placement.poolFor(1, 99), "unknown sender CPU: fall back to the NIC's node");
            assertEquals(1, placement.fallbacks());
            assertEquals(1, placement.chosen(0));
            assertEquals(2, placement.chosen(1));
        }
    }

    @Test
    void shouldServeFromTheNicsNodeWhenLocalToNic() throws Exception {
        try (BufferPool node0 = BufferPool.create("n0", 2048, 8, 2); BufferPool node1 = BufferPool.create("n1", 2048, 8, 2)) {
            TransmitBufferPlacement placement = new TransmitBufferPlacement(TWO_NODES, AllocationPolicy.LOCAL_TO_NIC, new BufferPool[] {node0, node1});
            assertSame(node0, placement.poolFor(0, 5));
            assertSame(node1, placement.poolFor(1, 2));
            assertSame(node0, placement.poolFor(-1, 1), "NIC node unknown: fall back to the sender's node");
            assertEquals(1, placement.fallbacks());
        }
    }

    @Test
    void shouldAlternateNodesWhenInterleaving() throws Exception {
        try (BufferPool node0 = BufferPool.create("n0", 2048, 8, 2); BufferPool node1 = BufferPool.create("n1", 2048, 8, 2)) {
            TransmitBufferPlacement placement = new TransmitBufferPlacement(TWO_NODES, AllocationPolicy.INTERLEAVE, new BufferPool[] {node0, node1});
            for (int i = 0; i < 100; i++) {
                placement.chooseNode(0, 1);
            }
            assertEquals(50, placement.chosen(0));
            assertEquals(50, placement.chosen(1));
        }
    }

    @Test
    void shouldGrantTheBufferFromTheChosenNodesPoolUnderItsQuota() throws Exception {
        try (BufferPool node0 = BufferPool.create("n0", 2048, 8, 2); BufferPool node1 = BufferPool.create("n1", 2048, 8, 2)) {
            node0.setQuota(1, 2048);
            node1.setQuota(1, 2048);
            TransmitBufferPlacement placement = new TransmitBufferPlacement(TWO_NODES, AllocationPolicy.LOCAL_TO_SENDER, new BufferPool[] {node0, node1});
            BufferPool pool = placement.poolFor(0, 6);
            int index = pool.acquire(1, 0);
            assertTrue(index >= 0);
            assertEquals(2048, node1.bytesInUse(1));
            assertEquals(0, node0.bytesInUse(1));
            pool.release(index);
        }
    }

    @Test
    void shouldReadTheTopologyFromSysfs() throws Exception {
        Files.createDirectories(dir.resolve("node0"));
        Files.createDirectories(dir.resolve("node1"));
        Files.createDirectories(dir.resolve("power"));
        Files.writeString(dir.resolve("node0/cpulist"), "0-1,4\n");
        Files.writeString(dir.resolve("node1/cpulist"), "2-3,5\n");
        Topology topology = Topology.fromSysfs(dir);
        assertEquals(2, topology.nodeCount());
        assertArrayEquals(new int[] {0, 1, 4}, topology.nodes().get(0).cpus());
        assertEquals(1, topology.nodeOfCpu(5));
        assertEquals(-1, topology.nodeOfCpu(6));
        Topology here = Topology.fromSysfs();
        assertTrue(here.nodeCount() >= 1);
        int cpu = CompletableFuture.supplyAsync(CurrentCpu::read).get();
        assertTrue(here.nodeOfCpu(cpu) >= 0, "this thread's CPU " + cpu + " is on a node of " + here);
    }

    @Test
    void shouldParseTheProcessorFieldOfAThreadStatLine() {
        String stat = "1234 (java (x) y) R 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30 31 32 33 34 35 7 0 0";
        assertEquals(7, CurrentCpu.parse(stat));
        assertThrows(IllegalArgumentException.class, () -> Topology.parse("0:0-3;1:3-4"));
    }
}

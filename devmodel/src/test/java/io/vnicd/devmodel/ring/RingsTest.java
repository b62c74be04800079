package io.vnicd.devmodel.ring;

import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RingsTest {
    private static final int ENTRIES = 4_000_000;

    @Test
    void shouldPackBufferLengthAndTargetIntoOneEntry() {
        long entry = RingEntry.pack(0xfffffffeL, 1514, 0xffff);
        assertEquals(0xfffffffeL, RingEntry.bufferIndex(entry));
        assertEquals(1514, RingEntry.length(entry));
        assertEquals(0xffff, RingEntry.target(entry));
        assertTrue(entry != RingEntry.NONE);
        assertThrows(IllegalArgumentException.class, () -> RingEntry.pack(0xffffffffL, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> RingEntry.pack(0, 65536, 0));
    }

    @Test
    void shouldCountFullDropsWhenOneToOneRingIsFull() {
        OneToOneRing ring = OneToOneRing.allocate(4);
        for (int i = 0; i < 6; i++) {
            ring.offer(i);
        }
        assertEquals(6, ring.offered());
        assertEquals(4, ring.enqueued());
        assertEquals(2, ring.fullDrops());
        assertEquals(0, ring.poll());
        assertTrue(ring.offer(99));
        assertEquals(Entries.of(1, 2, 3, 99), Entries.drain(ring));
        assertEquals(RingEntry.NONE, ring.poll());
    }

    @Test
    void shouldCountFullDropsWhenManyToOneRingIsFull() {
        ManyToOneRing ring = ManyToOneRing.allocate(4);
        for (int i = 0; i < 7; i++) {
            ring.offer(i);
        }
        assertEquals(7, ring.offered());
        assertEquals(4, ring.enqueued());
        assertEquals(3, ring.fullDrops());
        assertEquals(0, ring.poll());
        assertTrue(ring.offer(99));
        assertFalse(ring.offer(100));
        assertEquals(Entries.of(1, 2, 3, 99), Entries.drain(ring));
        assertEquals(RingEntry.NONE, ring.poll());
        assertEquals(4, ring.fullDrops());
    }

    @Test
    void shouldLoseNoEntryBetweenOneProducerAndOneConsumerThread() throws Exception {
        OneToOneRing ring = OneToOneRing.allocate(1024);
        CompletableFuture<Long> producer = CompletableFuture.supplyAsync(() -> {
            long refused = 0;
            for (long i = 0; i < ENTRIES; i++) {
                while (!ring.offer(i)) {
                    refused++;
                    Thread.onSpinWait();
                }
            }
            return refused;
        }, RingsTest::startThread);
        long expected = 0;
        long sum = 0;
        while (expected < ENTRIES) {
            long entry = ring.poll();
            if (entry == RingEntry.NONE) {
                Thread.onSpinWait();
                continue;
            }
            assertEquals(expected, entry, "entries arrive once each, in order");
            sum += entry;
            expected++;
        }
        long refused = producer.get(60, TimeUnit.SECONDS);
        assertEquals((long) ENTRIES * (ENTRIES - 1) / 2, sum);
        assertEquals(ENTRIES, ring.enqueued());
        assertEquals(refused, ring.fullDrops(), "every refused offer, and only those, counted as a full drop");
        assertEquals(RingEntry.NONE, ring.poll());
    }

    @Test
    void shouldLoseNoEntryFromThreeProducerThreads() throws Exception {
        ManyToOneRing ring = ManyToOneRing.allocate(1024);
        int producers = 3;
        int perProducer = ENTRIES / producers;
        List<CompletableFuture<Long>> futures = new ArrayList<>();
        for (int p = 0; p < producers; p++) {
            long base = (long) p << 40;
            futures.add(CompletableFuture.supplyAsync(() -> {
                long refused = 0;
                for (long i = 0; i < perProducer; i++) {
                    while (!ring.offer(base | i)) {
                        refused++;
                        Thread.onSpinWait();
                    }
                }
                return refused;
            }, RingsTest::startThread));
        }
        long[] next = new long[producers];
        long[] receivedAndSum = new long[2];
        long total = (long) producers * perProducer;
        EntryHandler handler = entry -> {
            int p = (int) (entry >>> 40);
            long i = entry & ((1L << 40) - 1);
            assertEquals(next[p], i, "each producer's entries arrive once, in its order");
            next[p]++;
            receivedAndSum[0]++;
            receivedAndSum[1] += entry;
        };
        while (receivedAndSum[0] < total) {
            if (ring.drain(handler, 256) == 0) {
                Thread.onSpinWait();
            }
        }
        long refused = 0;
        for (CompletableFuture<Long> future : futures) {
            refused += future.get(60, TimeUnit.SECONDS);
        }
        long expectedSum = 0;
        for (int p = 0; p < producers; p++) {
            assertEquals(perProducer, next[p]);
            expectedSum += ((long) p << 40) * perProducer + (long) perProducer * (perProducer - 1) / 2;
        }
        assertEquals(expectedSum, receivedAndSum[1], "checksum of every entry received");
        assertEquals(total, ring.enqueued());
        assertEquals(total, ring.dequeued());
        assertEquals(refused, ring.fullDrops(), "every refused offer of the three producers, and only those, counted");
        assertEquals(RingEntry.NONE, ring.poll());
    }

    @Test
    void shouldCarryEntriesBetweenTwoMappingsOfOneSharedFile() throws Exception {
        Path path = Files.createTempFile(MappedRegion.SHM_DIR, "vnicd-ring-test-", ".ring");
        int entries = 1_000_000;
        try (MappedRegion producerSide = MappedRegion.create(path, RingDescriptor.byteSize(RingDescriptor.KIND_ONE_TO_ONE, 256));
             MappedRegion consumerSide = MappedRegion.attach(path)) {
            OneToOneRing producerRing = OneToOneRing.create(producerSide.segment(), 256);
            OneToOneRing consumerRing = OneToOneRing.attach(consumerSide.segment());
            assertEquals(256, consumerRing.capacity());
            CompletableFuture<Void> producer = CompletableFuture.runAsync(() -> {
                for (long i = 1; i <= entries; i++) {
                    while (!producerRing.offer(i * 31)) {
                        Thread.onSpinWait();
                    }
                }
            }, RingsTest::startThread);
            long sum = 0;
            long count = 0;
            while (count < entries) {
                long entry = consumerRing.poll();
                if (entry == RingEntry.NONE) {
                    Thread.onSpinWait();
                    continue;
                }
                count++;
                assertEquals(count * 31, entry);
                sum += entry;
            }
            producer.get(60, TimeUnit.SECONDS);
            assertEquals(31L * entries * (entries + 1) / 2, sum);
            assertEquals(entries, consumerRing.enqueued());
        } finally {
            Files.deleteIfExists(path);
        }
    }

    @Test
    void shouldRefuseToAttachMemoryThatIsNotARing() {
        OneToOneRing ring = OneToOneRing.allocate(8);
        assertTrue(ring.offer(1));
        MemorySegment blank = Arena.ofAuto().allocate(4096, 8);
        assertThrows(IllegalArgumentException.class, () -> OneToOneRing.attach(blank));
        assertThrows(IllegalArgumentException.class, () -> OneToOneRing.allocate(12));
    }

    private static void startThread(Runnable task) {
        Thread thread = new Thread(task, "ring-test-producer");
        thread.setDaemon(true);
        thread.start();
    }

    /** Ring contents as lists, to compare in assertions. */
    private static final class Entries {
        static List<Long> of(long... values) {
            List<Long> list = new ArrayList<>();
            for (long value : values) {
                list.add(value);
            }
            return list;
        }

        static List<Long> drain(OneToOneRing ring) {
            List<Long> list = new ArrayList<>();
            ring.drain(list::add, Integer.MAX_VALUE);
            return list;
        }

        static List<Long> drain(ManyToOneRing ring) {
            List<Long> list = new ArrayList<>();
            ring.drain(list::add, Integer.MAX_VALUE);
            return list;
        }
    }
}

package io.vnicd.devmodel.ring;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SharedRingProcessTest {
    @Test
    void shouldHandEveryEntryToAConsumerInAnotherProcess() throws Exception {
        int entries = 2_000_000;
        int capacity = 1024;
        Path path = Files.createTempFile(MappedRegion.SHM_DIR, "vnicd-ring-process-test-", ".ring");
        try (MappedRegion region = MappedRegion.create(path, RingDescriptor.byteSize(RingDescriptor.KIND_ONE_TO_ONE, capacity))) {
            OneToOneRing ring = OneToOneRing.create(region.segment(), capacity);
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            Process consumer = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                    RingConsumerProcess.class.getName(), path.toString(), Integer.toString(entries))
                    .redirectErrorStream(true).start();
            try {
                long refused = 0;
                for (long i = 0; i < entries; i++) {
                    while (!ring.offer(i)) {
                        refused++;
                        if ((ring.fullDrops() & 0xffff) == 0) {
                            assertTrue(consumer.isAlive(), "consumer process is gone");
                        }
                        Thread.onSpinWait();
                    }
                }
                String output = new String(consumer.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
                assertTrue(consumer.waitFor(60, TimeUnit.SECONDS));
                assertEquals(0, consumer.exitValue(), output);
                assertEquals("sum=" + (long) entries * (entries - 1) / 2, output);
                assertEquals(entries, ring.dequeued(), "the other process's position is visible here");
                assertEquals(refused, ring.fullDrops(), "every refused offer, and only those, counted as a full drop");
            } finally {
                consumer.destroyForcibly();
            }
        } finally {
            Files.deleteIfExists(path);
        }
    }
}

package io.vnicd.devmodel.monitor;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MonitorRingTest {
    private final Path path = MonitorRing.pathFor("test-" + ProcessHandle.current().pid() + "-" + System.nanoTime());

    @AfterEach
    void removeRing() throws Exception {
        Files.deleteIfExists(path);
    }

    @Test
    void shouldCountADropInsteadOfBlockingWhenNoReaderKeepsUp() {
        try (MonitorRing ring = MonitorRing.create(path, 4, 128)) {
            MemorySegment frame = MemorySegment.ofArray(TestFrames.arpRequest());
            for (int i = 0; i < 4; i++) {
                assertTrue(ring.offer(frame, 0, 60));
            }
            assertFalse(ring.offer(frame, 0, 60));
            assertFalse(ring.offer(frame, 0, 60));
            assertEquals(4, ring.captured());
            assertEquals(2, ring.dropped());
            assertEquals(1, ring.poll((memory, offset, ts, original, captured) -> { }, 1));
            assertTrue(ring.offer(frame, 0, 60), "a slot freed by the reader takes the next frame");
        }
    }

    @Test
    void shouldKeepTheOriginalLengthAndCaptureUpToTheSnapLength() {
        try (MonitorRing writer = MonitorRing.create(path, 8, 128); MonitorRing reader = MonitorRing.attach(path)) {
            byte[] big = TestFrames.udp(1500);
            assertTrue(writer.offer(MemorySegment.ofArray(big), 0, big.length, 1_700_000_000_123_456_789L));
            List<byte[]> bytes = new ArrayList<>();
            assertEquals(1, reader.poll((memory, offset, ts, original, captured) -> {
                assertEquals(1_700_000_000_123_456_789L, ts);
                assertEquals(1500, original);
                assertEquals(128, captured);
                bytes.add(memory.asSlice(offset, captured).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
            }, 10));
            assertArrayEquals(java.util.Arrays.copyOf(big, 128), bytes.getFirst());
            assertEquals(1, writer.consumed(), "the reader's position is in shared memory");
        }
    }

    @Test
    void shouldAccountForEveryFrameOfferedByTwoDataPathThreads() throws Exception {
        int perThread = 200_000;
        try (MonitorRing writer = MonitorRing.create(path, 256, 64); MonitorRing reader = MonitorRing.attach(path)) {
            CompletableFuture<?>[] producers = new CompletableFuture<?>[2];
            for (int p = 0; p < 2; p++) {
                int producer = p;
                producers[p] = CompletableFuture.runAsync(() -> {
                    MemorySegment frame = MemorySegment.ofArray(new byte[64]);
                    for (int i = 0; i < perThread; i++) {
                        frame.set(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED, 0, producer << 24 | i);
                        writer.offer(frame, 0, 64);
                    }
                });
            }
            long[] lastSeen = {-1, -1};
            long[] received = {0};
            MonitorRecordHandler check = (memory, offset, ts, original, captured) -> {
                int stamp = memory.get(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED, offset);
                int producer = stamp >>> 24;
                int sequence = stamp & 0xffffff;
                assertTrue(sequence > lastSeen[producer], "each thread's frames arrive once, in order");
                lastSeen[producer] = sequence;
                received[0]++;
            };
            while (!CompletableFuture.allOf(producers).isDone()) {
                reader.poll(check, 64);
            }
            CompletableFuture.allOf(producers).get(60, TimeUnit.SECONDS);
            while (reader.poll(check, 64) > 0) {
                Thread.onSpinWait();
            }
            assertEquals(2L * perThread, received[0] + reader.dropped(), "every offered frame is read or counted as dropped");
            assertEquals(received[0], reader.captured());
        }
    }

    @Test
    void shouldRefuseToAttachAFileThatIsNotAMonitorRing() throws Exception {
        Files.write(path, new byte[4096]);
        assertThrows(IllegalArgumentException.class, () -> MonitorRing.attach(path));
        assertThrows(IllegalArgumentException.class, () -> MonitorRing.pathFor("a/b"));
    }

    @Test
    void shouldBeReadableByTheCreatorsUserOnly() throws Exception {
        Files.writeString(path, "an old world-readable file");
        Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-rw-rw-"));
        try (MonitorRing ring = MonitorRing.create(path, 4, 128)) {
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(path)));
            assertEquals(4, ring.slotCount());
        }
    }

    @Test
    void shouldRemoveOnlyTheRingsOfDeadDaemonsThatAreOurs(@TempDir Path shm) throws Exception {
        Process exited = new ProcessBuilder("true").start();
        exited.waitFor();
        long dead = exited.pid();
        long alive = ProcessHandle.current().pid();
        Path stale = Files.createFile(shm.resolve("vnicd-monitor-pf0-" + dead));
        Path live = Files.createFile(shm.resolve("vnicd-monitor-pf0-" + alive));
        Path notAPid = Files.createFile(shm.resolve("vnicd-monitor-test-" + alive + "-" + System.nanoTime()));
        Path theirs = Files.createFile(shm.resolve("vnicd-monitor-pf1-" + dead));
        Files.setOwner(theirs, shm.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("65534"));
        Path link = Files.createSymbolicLink(shm.resolve("vnicd-monitor-pf2-" + dead), live);
        Path otherKind = Files.createFile(shm.resolve("vnicd-ring-pf0-" + dead));

        assertEquals(List.of(stale), MonitorRing.removeStale(shm));
        for (Path kept : List.of(live, notAPid, theirs, otherKind)) {
            assertTrue(Files.exists(kept), kept + " stays");
        }
        assertTrue(Files.isSymbolicLink(link), "a link stays");
    }
}

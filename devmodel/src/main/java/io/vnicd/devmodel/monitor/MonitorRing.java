package io.vnicd.devmodel.monitor;

import io.vnicd.devmodel.ring.MappedRegion;
import io.vnicd.devmodel.ring.RingMemory;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static io.vnicd.devmodel.monitor.MonitorRingDescriptor.CONSUMER_POSITION_OFFSET;
import static io.vnicd.devmodel.monitor.MonitorRingDescriptor.DROPPED_OFFSET;
import static io.vnicd.devmodel.monitor.MonitorRingDescriptor.MAGIC;
import static io.vnicd.devmodel.monitor.MonitorRingDescriptor.MAGIC_OFFSET;
import static io.vnicd.devmodel.monitor.MonitorRingDescriptor.PRODUCER_POSITION_OFFSET;
import static io.vnicd.devmodel.monitor.MonitorRingDescriptor.SLOTS_OFFSET;
import static io.vnicd.devmodel.monitor.MonitorRingDescriptor.SLOT_CAPTURED_LENGTH;
import static io.vnicd.devmodel.monitor.MonitorRingDescriptor.SLOT_COUNT_OFFSET;
import static io.vnicd.devmodel.monitor.MonitorRingDescriptor.SLOT_DATA;
import static io.vnicd.devmodel.monitor.MonitorRingDescriptor.SLOT_ORIGINAL_LENGTH;
import static io.vnicd.devmodel.monitor.MonitorRingDescriptor.SLOT_SIZE_OFFSET;
import static io.vnicd.devmodel.monitor.MonitorRingDescriptor.SLOT_TIMESTAMP;
import static io.vnicd.devmodel.monitor.MonitorRingDescriptor.SNAP_LENGTH_OFFSET;
import static io.vnicd.devmodel.monitor.MonitorRingDescriptor.VERSION;
import static io.vnicd.devmodel.monitor.MonitorRingDescriptor.VERSION_OFFSET;

/**
 * The ring a monitor rule steers frames to (US20100284279): the data path copies each matching frame, up to
 * the snap length, into shared memory that a capture process reads directly (layout in
 * {@link MonitorRingDescriptor}). Offering never blocks: when the reader is slow or absent and the ring is
 * full, the frame is not copied and the drop is counted in the shared header, where the reader sees it.
 * Any number of data-path threads may offer; one reader polls. No allocation on either path.
 */
public final class MonitorRing implements AutoCloseable {
    private static final VarHandle LONG = RingMemory.LONG;
    private static final VarHandle INT = RingMemory.INT;
    private static final String PATH_PREFIX = "vnicd-monitor-";
    /** Timestamp argument meaning "when the frame is copied". */
    public static final long NOW = Long.MIN_VALUE;

    private final MappedRegion region;
    private final MemorySegment memory;
    private final int slotCount;
    private final int snapLength;
    private final long slotSize;
    private final long mask;
    /** Epoch nanoseconds minus System.nanoTime() when the ring was opened: timestamps without allocation. */
    private final long epochOffsetNanos;

    private MonitorRing(MappedRegion region, MemorySegment memory) {
        this.region = region;
        this.memory = memory;
        this.slotCount = memory.get(ValueLayout.JAVA_INT, SLOT_COUNT_OFFSET);
        this.snapLength = memory.get(ValueLayout.JAVA_INT, SNAP_LENGTH_OFFSET);
        this.slotSize = memory.get(ValueLayout.JAVA_INT, SLOT_SIZE_OFFSET);
        this.mask = slotCount - 1L;
        Instant now = Instant.now();
        this.epochOffsetNanos = now.getEpochSecond() * 1_000_000_000L + now.getNano() - System.nanoTime();
    }

    /** Where the monitor ring called name lives: /dev/shm/vnicd-monitor-name. */
    public static Path pathFor(String name) {
        if (name.isEmpty() || name.contains("/")) {
            throw new IllegalArgumentException("monitor ring name must be a non-empty file name: " + name);
        }
        return MappedRegion.SHM_DIR.resolve(PATH_PREFIX + name);
    }

    /**
     * Removes the rings daemons killed before closing them left in dir: files named
     * {@code vnicd-monitor-<name>-<pid>} (as a daemon names its PFs' rings) whose pid is no live process and
     * that belong to this process's user; others' files, links and live daemons' rings stay.
     *
     * @return the files removed
     */
    public static List<Path> removeStale(Path dir) {
        List<Path> removed = new ArrayList<>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, PATH_PREFIX + "*-*")) {
            int me = (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
            for (Path f : files) {
                String name = f.getFileName().toString();
                String tail = name.substring(name.lastIndexOf('-') + 1);
                // A pid, not another number: pids stay below 2^22 (pid_max's ceiling on 64-bit Linux).
                if (!tail.matches("[1-9][0-9]{0,6}") || Long.parseLong(tail) > (1 << 22)
                        || ProcessHandle.of(Long.parseLong(tail)).isPresent()) {
                    continue;
                }
                try {
                    Map<String, Object> a = Files.readAttributes(f, "unix:uid,mode", LinkOption.NOFOLLOW_LINKS);
                    boolean regular = ((Integer) a.get("mode") & 0170000) == 0100000;
                    if (regular && (Integer) a.get("uid") == me && Files.deleteIfExists(f)) {
                        removed.add(f);
                    }
                } catch (IOException gone) {
                    // removed meanwhile, or not ours to read
                }
            }
        } catch (IOException e) {
            System.getLogger(MonitorRing.class.getName()).log(System.Logger.Level.WARNING,
                    () -> "cannot look for stale monitor rings in " + dir + ": " + e.getMessage());
        }
        return removed;
    }

    /** Creates the ring file at path (replacing any old one), mode 0600, and formats it empty. */
    public static MonitorRing create(Path path, int slotCount, int snapLength) {
        MappedRegion region = MappedRegion.create(path, MonitorRingDescriptor.byteSize(slotCount, snapLength));
        try {
            format(region.segment(), slotCount, snapLength);
            return new MonitorRing(region, region.segment());
        } catch (RuntimeException e) {
            region.close();
            throw e;
        }
    }

    /** Attaches to a ring file created by {@link #create}, normally from another process (the reader). */
    public static MonitorRing attach(Path path) {
        MappedRegion region = MappedRegion.attach(path);
        try {
            validate(region.segment());
            return new MonitorRing(region, region.segment());
        } catch (RuntimeException e) {
            region.close();
            throw e;
        }
    }

    /** Formats memory someone else owns (e.g. a memfd passed to the reader) as an empty monitor ring. */
    public static MonitorRing create(MemorySegment memory, int slotCount, int snapLength) {
        format(memory, slotCount, snapLength);
        return new MonitorRing(null, memory);
    }

    public static MonitorRing attach(MemorySegment memory) {
        validate(memory);
        return new MonitorRing(null, memory);
    }

    private static void format(MemorySegment memory, int slotCount, int snapLength) {
        long needed = MonitorRingDescriptor.byteSize(slotCount, snapLength);
        if (memory.byteSize() < needed) {
            throw new IllegalArgumentException("monitor ring needs " + needed + " bytes, memory has " + memory.byteSize());
        }
        int slotSize = MonitorRingDescriptor.slotSize(snapLength);
        memory.asSlice(0, SLOTS_OFFSET).fill((byte) 0);
        for (long i = 0; i < slotCount; i++) {
            memory.set(ValueLayout.JAVA_LONG, SLOTS_OFFSET + i * slotSize, i);
        }
        memory.set(ValueLayout.JAVA_INT, VERSION_OFFSET, VERSION);
        memory.set(ValueLayout.JAVA_INT, SLOT_COUNT_OFFSET, slotCount);
        memory.set(ValueLayout.JAVA_INT, SNAP_LENGTH_OFFSET, snapLength);
        memory.set(ValueLayout.JAVA_INT, SLOT_SIZE_OFFSET, slotSize);
        // Magic last, with release: a reader that sees it sees the whole header and every slot sequence.
        INT.setRelease(memory, MAGIC_OFFSET, MAGIC);
    }

    private static void validate(MemorySegment memory) {
        if (memory.byteSize() < SLOTS_OFFSET) {
            throw new IllegalArgumentException("too small for a monitor ring: " + memory.byteSize() + " bytes");
        }
        int magic = (int) INT.getAcquire(memory, MAGIC_OFFSET);
        if (magic != MAGIC) {
            throw new IllegalArgumentException("not a vnicd monitor ring (magic 0x" + Integer.toHexString(magic) + ")");
        }
        int version = memory.get(ValueLayout.JAVA_INT, VERSION_OFFSET);
        if (version != VERSION) {
            throw new IllegalArgumentException("monitor ring version " + version + ", this reader knows " + VERSION);
        }
        int slotCount = memory.get(ValueLayout.JAVA_INT, SLOT_COUNT_OFFSET);
        int snapLength = memory.get(ValueLayout.JAVA_INT, SNAP_LENGTH_OFFSET);
        long needed = MonitorRingDescriptor.byteSize(slotCount, snapLength);
        if (memory.get(ValueLayout.JAVA_INT, SLOT_SIZE_OFFSET) != MonitorRingDescriptor.slotSize(snapLength) || memory.byteSize() < needed) {
            throw new IllegalArgumentException("monitor ring header does not match its size (" + memory.byteSize() + " bytes)");
        }
    }

    /**
     * Data path: copies frame[offset, offset + length) with a timestamp of now. False (counted) when full;
     * the clock is read only once a slot is claimed, so a full ring costs the data path little.
     */
    public boolean offer(MemorySegment frame, long offset, int length) {
        return offer(frame, offset, length, NOW);
    }

    /**
     * Data path, any thread: as {@link #offer(MemorySegment, long, int)} with the caller's timestamp in
     * nanoseconds since the epoch ({@link #NOW} for the time of the copy).
     */
    public boolean offer(MemorySegment frame, long offset, int length, long timestampNanos) {
        final MemorySegment memory = this.memory;
        long position = (long) LONG.getVolatile(memory, PRODUCER_POSITION_OFFSET);
        while (true) {
            long slot = SLOTS_OFFSET + (position & mask) * slotSize;
            long difference = (long) LONG.getAcquire(memory, slot) - position;
            if (difference == 0) {
                if (LONG.compareAndSet(memory, PRODUCER_POSITION_OFFSET, position, position + 1)) {
                    int captured = Math.min(length, snapLength);
                    MemorySegment.copy(frame, offset, memory, slot + SLOT_DATA, captured);
                    memory.set(ValueLayout.JAVA_LONG, slot + SLOT_TIMESTAMP,
                            timestampNanos == NOW ? epochOffsetNanos + System.nanoTime() : timestampNanos);
                    memory.set(ValueLayout.JAVA_INT, slot + SLOT_ORIGINAL_LENGTH, length);
                    memory.set(ValueLayout.JAVA_INT, slot + SLOT_CAPTURED_LENGTH, captured);
                    LONG.setRelease(memory, slot, position + 1);
                    return true;
                }
                position = (long) LONG.getVolatile(memory, PRODUCER_POSITION_OFFSET);
            } else if (difference < 0) {
                LONG.getAndAdd(memory, DROPPED_OFFSET, 1L);
                return false;
            } else {
                position = (long) LONG.getVolatile(memory, PRODUCER_POSITION_OFFSET);
            }
        }
    }

    /** Reader (one at a time): hands up to limit records to handler, returns how many. */
    public int poll(MonitorRecordHandler handler, int limit) {
        final MemorySegment memory = this.memory;
        final long head = (long) LONG.getAcquire(memory, CONSUMER_POSITION_OFFSET);
        int count = 0;
        while (count < limit) {
            long position = head + count;
            long slot = SLOTS_OFFSET + (position & mask) * slotSize;
            if ((long) LONG.getAcquire(memory, slot) != position + 1) {
                break;
            }
            handler.onRecord(memory, slot + SLOT_DATA, memory.get(ValueLayout.JAVA_LONG, slot + SLOT_TIMESTAMP),
                    memory.get(ValueLayout.JAVA_INT, slot + SLOT_ORIGINAL_LENGTH),
                    memory.get(ValueLayout.JAVA_INT, slot + SLOT_CAPTURED_LENGTH));
            LONG.setRelease(memory, slot, position + slotCount);
            count++;
            LONG.setRelease(memory, CONSUMER_POSITION_OFFSET, position + 1);
        }
        return count;
    }

    /** Frames copied into the ring since it was created. */
    public long captured() {
        return (long) LONG.getVolatile(memory, PRODUCER_POSITION_OFFSET);
    }

    /** Frames not copied because the ring was full. */
    public long dropped() {
        return (long) LONG.getVolatile(memory, DROPPED_OFFSET);
    }

    /** Frames taken by readers. */
    public long consumed() {
        return (long) LONG.getVolatile(memory, CONSUMER_POSITION_OFFSET);
    }

    public int slotCount() {
        return slotCount;
    }

    public int snapLength() {
        return snapLength;
    }

    /** The file behind a ring made by {@link #create(Path, int, int)} or {@link #attach(Path)}, else null. */
    public Path path() {
        return region == null ? null : region.path();
    }

    /** Unmaps the ring (the file stays for other processes; the creator removes it with {@link #unlink}). */
    @Override
    public void close() {
        if (region != null) {
            region.close();
        }
    }

    /** Removes the ring's file name; attached readers keep their mapping. */
    public void unlink() {
        if (region != null) {
            region.unlink();
        }
    }
}
